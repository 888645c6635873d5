#include "core/mask_predictor.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "core/topk.h"

namespace sparsifiner {

namespace {

// A per-thread float buffer that only grows.
float* thread_floats(size_t count) {
    thread_local std::vector<float> buffer;
    if (buffer.size() < count) buffer.resize(count);
    return buffer.data();
}

// The basis columns of the alive tokens, renumbered to alive indices: a CSR slice built once
// per predict() call when tokens were pruned (K rows, a few thousand non-zeros at most).
struct BasisView {
    const int32_t* row_start;
    const int32_t* col;
    const float* val;
};

// The predictor's small products are plain loops whose inner loop runs over a contiguous output
// row (no reduction), which the compiler vectorises. target_clones builds an AVX2+FMA copy next
// to the baseline one and picks it at load time, so the default build stays any-x86-64.
#define SPARSIFINER_CLONES __attribute__((target_clones("arch=haswell", "default")))

// y [rows, c] = x W^T + b for rows of x with stride x_stride; w_t is W^T [d, c].
SPARSIFINER_CLONES void project_rows(const float* x, long long x_stride, int rows, const float* w_t, const float* bias, int d,
                  int c, float* y) {
    for (int i = 0; i < rows; i++) {
        const float* xi = x + i * x_stride;
        float* yi = y + static_cast<long long>(i) * c;
        for (int a = 0; a < c; a++) yi[a] = bias[a];
        for (int t = 0; t < d; t++) {
            const float xv = xi[t];
            const float* wt = w_t + static_cast<long long>(t) * c;
            for (int a = 0; a < c; a++) yi[a] += xv * wt[a];
        }
    }
}

// kl [c, K] = sum_i kc[i]^T proj_n[pos_i]: one outer product per token.
SPARSIFINER_CLONES void compress_keys(const float* kc, int N, int c, const float* proj_n, const int32_t* positions,
                                      int K, float* kl) {
    std::fill(kl, kl + static_cast<size_t>(c) * K, 0.f);
    for (int i = 0; i < N; i++) {
        const float* pn = proj_n + static_cast<size_t>(positions ? positions[i] : i) * K;
        const float* kci = kc + static_cast<size_t>(i) * c;
        for (int a = 0; a < c; a++) {
            const float x = kci[a];
            float* kla = kl + static_cast<size_t>(a) * K;
            for (int m = 0; m < K; m++) kla[m] += x * pn[m];
        }
    }
}

// out [K] = qc_row [c] kl [c, K].
SPARSIFINER_CLONES void row_times(const float* qc_row, const float* kl, int c, int K, float* out) {
    std::fill(out, out + K, 0.f);
    for (int a = 0; a < c; a++) {
        const float x = qc_row[a];
        const float* kla = kl + static_cast<size_t>(a) * K;
        for (int m = 0; m < K; m++) out[m] += x * kla[m];
    }
}

}  // namespace

MaskPredictor::MaskPredictor(const float* pred_q_w, const float* pred_q_b, const float* pred_k_w,
                             const float* pred_k_b, const float* proj_n, const float* proj_back_n, int H, int d,
                             int c, int N, int K, float basis_threshold, int basis_coef_topk)
    : H_(H), d_(d), c_(c), N_(N), K_(K), coef_topk_(std::min(std::max(basis_coef_topk, 1), std::max(K, 1))) {
    if (H <= 0 || d <= 0 || c <= 0 || N <= 1 || K <= 0)
        throw std::invalid_argument("mask predictor: bad geometry H=" + std::to_string(H) + " d=" + std::to_string(d) +
                                    " c=" + std::to_string(c) + " N=" + std::to_string(N) + " K=" + std::to_string(K));
    wq_t_.resize(static_cast<size_t>(d) * c);
    wk_t_.resize(static_cast<size_t>(d) * c);
    for (int a = 0; a < c; a++)
        for (int t = 0; t < d; t++) {
            wq_t_[static_cast<size_t>(t) * c + a] = pred_q_w[static_cast<size_t>(a) * d + t];
            wk_t_[static_cast<size_t>(t) * c + a] = pred_k_w[static_cast<size_t>(a) * d + t];
        }
    bq_.assign(pred_q_b, pred_q_b + c);
    bk_.assign(pred_k_b, pred_k_b + c);
    proj_n_.assign(proj_n, proj_n + static_cast<size_t>(N) * K);
    // basis[m][n] = |proj_back_n[n][m]|, kept only above the threshold (SPEC 2, step 5). A NaN
    // weight fails the comparison and is dropped rather than poisoning every score.
    basis_row_start_.assign(1, 0);
    for (int m = 0; m < K; m++) {
        for (int n = 0; n < N; n++) {
            const float v = std::fabs(proj_back_n[static_cast<size_t>(n) * K + m]);
            if (v > basis_threshold) {
                basis_col_.push_back(n);
                basis_val_.push_back(v);
            }
        }
        basis_row_start_.push_back(static_cast<int32_t>(basis_col_.size()));
    }
}

MaskPredictor::MaskPredictor(const DeitBlockWeights& block, const DeitConfig& config)
    : MaskPredictor(block.pred_q_w.data(), block.pred_q_b.data(), block.pred_k_w.data(), block.pred_k_b.data(),
                    block.proj_n.data(), block.proj_back_n.data(), config.num_heads, config.head_dim(),
                    config.predictor_c, config.predictor_N, config.predictor_K, config.basis_threshold,
                    config.basis_coef_topk) {
    if (!config.sparsifiner || block.proj_n.size() != static_cast<size_t>(N_) * K_ ||
        block.proj_back_n.size() != proj_n_.size() || block.pred_q_w.size() != static_cast<size_t>(c_) * d_ ||
        block.pred_k_w.size() != static_cast<size_t>(c_) * d_ || block.pred_q_b.size() != static_cast<size_t>(c_) ||
        block.pred_k_b.size() != static_cast<size_t>(c_))
        throw std::invalid_argument("mask predictor: the block's predictor tensors do not match the configuration");
}

int MaskPredictor::predict(const float* qkv, int B, int N_alive, int budget, const int32_t* token_positions,
                           int32_t* key_index, PredictorCounts* counts) const {
    if (N_alive < 1 || N_alive > N_)
        throw std::invalid_argument("mask predictor: " + std::to_string(N_alive) + " tokens, the predictor has " +
                                    std::to_string(N_));
    if (!token_positions && N_alive != N_)
        throw std::invalid_argument("mask predictor: " + std::to_string(N_alive) +
                                    " tokens without token positions, proj_n has " + std::to_string(N_) + " rows");
    if (token_positions)
        for (int i = 0; i < N_alive; i++)
            if (token_positions[i] < 0 || token_positions[i] >= N_ || (i > 0 && token_positions[i] <= token_positions[i - 1]))
                throw std::invalid_argument("mask predictor: token position " + std::to_string(i) + " (" +
                                            std::to_string(token_positions[i]) +
                                            ") is not strictly ascending within [0, " + std::to_string(N_) + ")");
    budget = std::min(std::max(budget, 1), N_alive);
    if (B <= 0 || N_alive == 1) return budget;

    // The basis restricted to the alive columns and renumbered (identity when nothing was pruned).
    BasisView basis{basis_row_start_.data(), basis_col_.data(), basis_val_.data()};
    thread_local std::vector<int32_t> sliced_start, sliced_col, alive_of;
    thread_local std::vector<float> sliced_val;
    if (token_positions) {
        alive_of.assign(N_, -1);
        for (int i = 0; i < N_alive; i++) alive_of[token_positions[i]] = i;
        sliced_start.assign(1, 0);
        sliced_col.clear();
        sliced_val.clear();
        for (int m = 0; m < K_; m++) {
            for (int e = basis_row_start_[m]; e < basis_row_start_[m + 1]; e++)
                if (alive_of[basis_col_[e]] >= 0) {
                    sliced_col.push_back(alive_of[basis_col_[e]]);
                    sliced_val.push_back(basis_val_[e]);
                }
            sliced_start.push_back(static_cast<int32_t>(sliced_col.size()));
        }
        basis = {sliced_start.data(), sliced_col.data(), sliced_val.data()};
    }

    const int H = H_, d = d_, c = c_, K = K_, N = N_alive, D = H_ * d_;
    const long long row_stride = 3LL * D;
    const float cheap_scale = 1.0f / std::sqrt(static_cast<float>(H));
    const int coef_topk = coef_topk_;
    long long coef_basis_macs = 0;
#pragma omp parallel for collapse(2) schedule(static) reduction(+ : coef_basis_macs)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            // Scratch: qc [N, c], kc [N, c], kl [c, K], coef [K], approx [N], kept coef indices [K].
            const size_t nc = static_cast<size_t>(N) * c;
            float* qc = thread_floats(2 * nc + static_cast<size_t>(c) * K + 2 * K + N);
            float* kc = qc + nc;
            float* kl = kc + nc;
            float* coef = kl + static_cast<size_t>(c) * K;
            float* approx = coef + K;
            int32_t* kept = reinterpret_cast<int32_t*>(approx + N);
            const float* image = qkv + static_cast<long long>(b) * N * row_stride;
            project_rows(image + h * d, row_stride, N, wq_t_.data(), bq_.data(), d, c, qc);
            project_rows(image + D + h * d, row_stride, N, wk_t_.data(), bk_.data(), d, c, kc);

            compress_keys(kc, N, c, proj_n_.data(), token_positions, K, kl);

            int32_t* out_rows = key_index + (static_cast<long long>(b) * H + h) * (N - 1) * budget;
            for (int i = 1; i < N; i++) {
                // cheap row, then its softmax over K.
                const float* qci = qc + static_cast<size_t>(i) * c;
                row_times(qci, kl, c, K, coef);
                float max_value = -INFINITY;
                for (int m = 0; m < K; m++) {
                    coef[m] *= cheap_scale;
                    max_value = std::fmax(max_value, coef[m]);
                }
                float sum = 0.f;
                for (int m = 0; m < K; m++) {
                    coef[m] = std::exp(coef[m] - max_value);
                    sum += coef[m];
                }
                const float inv_sum = 1.0f / sum;
                for (int m = 0; m < K; m++) coef[m] *= inv_sum;
                // The largest coefficients only, not renormalised (SPEC 2, step 4).
                const int n_kept = topk_select(coef, K, coef_topk, kept);
                std::fill(approx, approx + N, 0.f);
                for (int e = 0; e < n_kept; e++) {
                    const int m = kept[e];
                    const float w = coef[m];
                    for (int z = basis.row_start[m]; z < basis.row_start[m + 1]; z++)
                        approx[basis.col[z]] += w * basis.val[z];
                    coef_basis_macs += basis.row_start[m + 1] - basis.row_start[m];
                }
                topk_select(approx, N, budget, out_rows + static_cast<long long>(i - 1) * budget);
            }
        }

    if (counts) {
        const long long bh = static_cast<long long>(B) * H;
        *counts = PredictorCounts{};
        counts->basis_nnz = basis.row_start[K];
        counts->macs_qc = bh * N * c * d;
        counts->macs_kc = bh * N * c * d;
        counts->macs_kl = bh * N * c * K;
        counts->macs_cheap = bh * (N - 1) * c * K;
        counts->macs_coef_basis = coef_basis_macs;
    }
    return budget;
}

}  // namespace sparsifiner
