#pragma once
// The numbers a sweep gathers for one attention setting, kept as sums and counts (plus the raw
// latency samples) so that `sparsifiner merge` can add shards and derive exactly what one process
// over all the images would have printed. Units are in the field names (see to_json).
#include <vector>

#include <nlohmann/json.hpp>

namespace sparsifiner {

struct SweepTotals {
    long images = 0;           // images run through this setting
    long labelled = 0;         // of those, with a known label
    long top1_correct = 0, top5_correct = 0;
    long top1_agree = 0;       // top-1 equal to the dense model's top-1
    double kl_sum_nats = 0;    // sum over images of KL(dense || this), natural log
    double macs_sum = 0;       // multiply-accumulates summed over images (integer-valued)
    double mhsa_macs_sum = 0;  // the MHSA part (q k, p v, predictor, mask scores)
    // Sum over images of the image's kept mass: the share of the dense softmax mass held by the
    // kept keys, averaged over the non-cls query rows, then heads, then blocks (1 for dense).
    double kept_mass_sum = 0;
    std::vector<double> latency_ms;  // one sample per forward pass: its time / its batch size

    void add(const SweepTotals& other);
    // The sums and the derived per-image numbers (null when undefined, e.g. accuracy without labels).
    void to_json(nlohmann::json& out) const;
    // Reads back the sums of to_json; throws nlohmann::json::exception on missing fields.
    static SweepTotals from_json(const nlohmann::json& in);
};

double median_of(std::vector<double> values);

}  // namespace sparsifiner
