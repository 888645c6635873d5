#pragma once
// The Sparsifiner predictor's low-rank connectivity matrix `approx = coef basis` (SPEC 2 steps
// 1-6) of one head, in double and dense, for the fidelity analysis (its singular values: the
// rank is at most K). The engine's MaskPredictor computes the same scores in float but only
// hands out the kept keys; this plain version exists because the analysis needs the matrix
// itself, and it is never on the inference path.
#include <cstdint>
#include <vector>

#include "weights/deit_weights.h"

namespace sparsifiner {

class PredictorLowRank {
public:
    // Copies the block's predictor tensors (config.sparsifiner must be true).
    PredictorLowRank(const DeitBlockWeights& block, const DeitConfig& config);

    // q, k of one head: rows of `stride` floats for the N alive tokens, whose original indices
    // are positions [N] (nullptr: 0..N-1). Returns approx [N-1, N] row-major (the cls row is
    // dropped, as in SPEC 2 step 4).
    std::vector<double> approx(const float* q, const float* k, long stride, int N, const int32_t* positions) const;

    int compressed() const { return K_; }

private:
    int H_, d_, c_, N_, K_, coef_topk_;
    std::vector<double> wq_, bq_, wk_, bk_;  // [c, d], [c]
    std::vector<double> proj_n_;             // [N, K]
    std::vector<double> basis_;              // [K, N]: |proj_back_n|^T, entries <= threshold zeroed
};

}  // namespace sparsifiner
