#pragma once
// Random connectivity-predictor weights for the unit tests: normal draws from the caller's
// generator in the order wq, bq, wk, bk, proj_n, proj_back_n, each tensor with its own scale, and
// the MaskPredictor they make.
#include <cstddef>
#include <random>
#include <vector>

#include "core/masks/mask_predictor.h"

namespace sparsifiner::test_support {

inline std::vector<float> normal_floats(std::mt19937& rng, size_t n, float scale) {
    std::normal_distribution<float> normal;
    std::vector<float> v(n);
    for (float& x : v) x = normal(rng) * scale;
    return v;
}

struct PredictorScales {
    float w = 1, b = 1, proj_n = 1, proj_back_n = 1;  // Wq and Wk, their biases, proj_n, proj_back_n
};

struct RandomPredictorWeights {
    int d, c, N, K;
    std::vector<float> wq, bq, wk, bk, proj_n, proj_back_n;  // drawn in this order

    RandomPredictorWeights(int d_, int c_, int N_, int K_, std::mt19937& rng, PredictorScales s)
        : d(d_), c(c_), N(N_), K(K_),
          wq(normal_floats(rng, static_cast<size_t>(c_) * d_, s.w)), bq(normal_floats(rng, c_, s.b)),
          wk(normal_floats(rng, static_cast<size_t>(c_) * d_, s.w)), bk(normal_floats(rng, c_, s.b)),
          proj_n(normal_floats(rng, static_cast<size_t>(N_) * K_, s.proj_n)),
          proj_back_n(normal_floats(rng, static_cast<size_t>(N_) * K_, s.proj_back_n)) {}

    MaskPredictor make(int H, float threshold, int coef_topk) const {
        return MaskPredictor(wq.data(), bq.data(), wk.data(), bk.data(), proj_n.data(), proj_back_n.data(), H, d, c,
                             N, K, threshold, coef_topk);
    }
};

}  // namespace sparsifiner::test_support
