#include "analysis/predictor_low_rank.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace sparsifiner {

PredictorLowRank::PredictorLowRank(const DeitBlockWeights& b, const DeitConfig& config)
    : H_(config.num_heads), d_(config.head_dim()), c_(config.predictor_c), N_(config.predictor_N),
      K_(config.predictor_K), coef_topk_(std::min(config.basis_coef_topk, config.predictor_K)),
      wq_(b.pred_q_w.begin(), b.pred_q_w.end()), bq_(b.pred_q_b.begin(), b.pred_q_b.end()),
      wk_(b.pred_k_w.begin(), b.pred_k_w.end()), bk_(b.pred_k_b.begin(), b.pred_k_b.end()),
      proj_n_(b.proj_n.begin(), b.proj_n.end()), basis_((size_t)K_ * N_, 0.0) {
    for (int n = 0; n < N_; n++)
        for (int m = 0; m < K_; m++) {
            const double value = std::fabs((double)b.proj_back_n[(size_t)n * K_ + m]);
            if (value > config.basis_threshold) basis_[(size_t)m * N_ + n] = value;
        }
}

std::vector<double> PredictorLowRank::approx(const float* q, const float* k, long stride, int N,
                                             const int32_t* positions) const {
    auto original = [&](int t) { return positions ? positions[t] : t; };
    // qc = q Wq^T + bq, kc = k Wk^T + bk: [N, c].
    std::vector<double> qc((size_t)N * c_), kc((size_t)N * c_);
    for (int t = 0; t < N; t++)
        for (int ci = 0; ci < c_; ci++) {
            double sq = bq_[ci], sk = bk_[ci];
            for (int j = 0; j < d_; j++) {
                sq += (double)q[(long)t * stride + j] * wq_[(size_t)ci * d_ + j];
                sk += (double)k[(long)t * stride + j] * wk_[(size_t)ci * d_ + j];
            }
            qc[(size_t)t * c_ + ci] = sq, kc[(size_t)t * c_ + ci] = sk;
        }
    // kl = kc^T proj_n over the alive tokens' rows of proj_n: [c, K].
    std::vector<double> kl((size_t)c_ * K_, 0.0);
    for (int t = 0; t < N; t++)
        for (int ci = 0; ci < c_; ci++)
            for (int m = 0; m < K_; m++)
                kl[(size_t)ci * K_ + m] += kc[(size_t)t * c_ + ci] * proj_n_[(size_t)original(t) * K_ + m];

    std::vector<double> out((size_t)(N - 1) * N, 0.0), coef(K_);
    std::vector<int> order(K_);
    const double scale = 1.0 / std::sqrt((double)H_);  // SPEC 2 step 3: the head count, not d
    for (int i = 1; i < N; i++) {
        double top = -INFINITY;
        for (int m = 0; m < K_; m++) {
            double s = 0;
            for (int ci = 0; ci < c_; ci++) s += qc[(size_t)i * c_ + ci] * kl[(size_t)ci * K_ + m];
            coef[m] = s * scale;
            top = std::max(top, coef[m]);
        }
        double sum = 0;
        for (double& value : coef) sum += (value = std::exp(value - top));
        for (double& value : coef) value /= sum;
        // Keep the coef_topk largest (ties to the lower index), no renormalisation.
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return coef[a] > coef[b]; });
        double* row = out.data() + (size_t)(i - 1) * N;
        for (int r = 0; r < coef_topk_; r++) {
            const int m = order[r];
            for (int t = 0; t < N; t++) row[t] += coef[m] * basis_[(size_t)m * N_ + original(t)];
        }
    }
    return out;
}

}  // namespace sparsifiner
