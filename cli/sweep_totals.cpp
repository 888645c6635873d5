#include "cli/sweep_totals.h"

#include <algorithm>

namespace sparsifiner {

double median_of(std::vector<double> values) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    const size_t n = values.size();
    return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

void SweepTotals::add(const SweepTotals& other) {
    images += other.images;
    labelled += other.labelled;
    top1_correct += other.top1_correct;
    top5_correct += other.top5_correct;
    top1_agree += other.top1_agree;
    kl_sum_nats += other.kl_sum_nats;
    macs_sum += other.macs_sum;
    mhsa_macs_sum += other.mhsa_macs_sum;
    kept_mass_sum += other.kept_mass_sum;
    latency_ms.insert(latency_ms.end(), other.latency_ms.begin(), other.latency_ms.end());
}

void SweepTotals::to_json(nlohmann::json& out) const {
    auto ratio = [](double num, long den) { return den > 0 ? nlohmann::json(num / den) : nlohmann::json(nullptr); };
    out["images"] = images;
    out["labelled"] = labelled;
    out["top1_correct"] = top1_correct;
    out["top5_correct"] = top5_correct;
    out["top1_agree"] = top1_agree;
    out["kl_sum_nats"] = kl_sum_nats;
    out["macs_sum"] = macs_sum;
    out["mhsa_macs_sum"] = mhsa_macs_sum;
    out["kept_mass_sum"] = kept_mass_sum;
    out["latency_ms_samples"] = latency_ms;
    out["top1_accuracy"] = ratio((double)top1_correct, labelled);
    out["top5_accuracy"] = ratio((double)top5_correct, labelled);
    out["top1_agreement"] = ratio((double)top1_agree, images);
    out["kl_mean_nats"] = ratio(kl_sum_nats, images);
    out["macs_per_image"] = ratio(macs_sum, images);
    out["mhsa_macs_per_image"] = ratio(mhsa_macs_sum, images);
    out["kept_mass_mean"] = ratio(kept_mass_sum, images);
    out["latency_ms_median"] = latency_ms.empty() ? nlohmann::json(nullptr) : nlohmann::json(median_of(latency_ms));
}

SweepTotals SweepTotals::from_json(const nlohmann::json& in) {
    SweepTotals t;
    t.images = in.at("images").get<long>();
    t.labelled = in.at("labelled").get<long>();
    t.top1_correct = in.at("top1_correct").get<long>();
    t.top5_correct = in.at("top5_correct").get<long>();
    t.top1_agree = in.at("top1_agree").get<long>();
    t.kl_sum_nats = in.at("kl_sum_nats").get<double>();
    t.macs_sum = in.at("macs_sum").get<double>();
    t.mhsa_macs_sum = in.at("mhsa_macs_sum").get<double>();
    t.kept_mass_sum = in.at("kept_mass_sum").get<double>();
    t.latency_ms = in.at("latency_ms_samples").get<std::vector<double>>();
    return t;
}

}  // namespace sparsifiner
