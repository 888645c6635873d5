#pragma once
// Per-block, per-head attention statistics gathered over images through a ForwardObserver, for
// `profile` (tokens alive, density and, with --fidelity, kept mass, output error and singular
// value spectra) and `sweep` (the kept mass). Meant for an untimed pass of its own: the hooks
// do real work (the kept mass and the fidelity build dense attention rows).
#include <limits>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/model/deit_model.h"
#include "analysis/predictor_low_rank.h"

namespace sparsifiner {

// Mean, min and max of one number over images.
struct RunningStat {
    double sum = 0, min = std::numeric_limits<double>::infinity(), max = -std::numeric_limits<double>::infinity();
    long count = 0;
    void add(double value);
    double mean() const { return count ? sum / count : 0; }
    nlohmann::json to_json() const;  // {"mean", "min", "max"}; nulls when nothing was added
};

struct HeadSummary {
    RunningStat density, kept_mass, output_rel_error;
    // Sums over images of the i-th largest singular value (see attention_fidelity.h).
    std::vector<double> dense_singular, sparse_singular, low_rank_singular;
    long spectra = 0, low_rank_spectra = 0;
};

struct LayerSummary {
    RunningStat tokens_alive, density;
    std::vector<HeadSummary> heads;
};

enum class ProbeDepth {
    density,    // tokens alive and density only: free
    kept_mass,  // + the kept mass: one dense row of scores per query
    fidelity,   // + output error and spectra: dense N x N matrices and SVDs per head
};

class AttentionProbe {
public:
    // low_rank: one per block (the learned predictor's coef basis), or empty: no low-rank spectra.
    AttentionProbe(int depth, int H, int d, ProbeDepth what, const std::vector<PredictorLowRank>* low_rank = nullptr,
                   int top_singular = 32);

    // The hooks that feed this probe; valid while the probe lives.
    ForwardObserver observer();

    const std::vector<LayerSummary>& layers() const { return layers_; }
    // Sum over the images seen of (the mean over blocks and heads of the kept mass of that image).
    double kept_mass_image_sum() const;
    long images() const { return images_; }

    // Per block: {"tokens_alive", "density"} as RunningStat JSON and "heads": [per head ...].
    nlohmann::json layer_json(int block) const;

private:
    void on_masks(int block, const int32_t* key_index, const int32_t* positions, int B, int T, int k);

    int depth_, H_, d_, top_;
    ProbeDepth what_;
    const std::vector<PredictorLowRank>* low_rank_;
    std::vector<LayerSummary> layers_;
    const float* qkv_ = nullptr;  // the current block's qkv [B, T, 3, H, d], seen just before its masks
    long images_ = 0;
};

}  // namespace sparsifiner
