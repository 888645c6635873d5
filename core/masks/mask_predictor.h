#pragma once
// The Sparsifiner connectivity predictor (SPEC 2, steps 1-7): from the qkv activation of a block
// to the ELL key_index that sparse attention reads. Built once per block from its weights; the
// thresholded basis |proj_back_n|^T is stored compactly (core/masks/compact_basis.h) since only about a
// third of it survives the threshold in trained models.
//
// Per image b and head h, with q, k [N, d] read in place from qkv [B, N, 3, H, d]:
//   qc = q Wq^T + bq, kc = k Wk^T + bk            [N, c]
//   kl = kc^T proj_n                               [c, K]
//   cheap = qc[1:] kl * H^-0.5                     [N-1, K]   (the cls row is dropped)
//   coef = softmax over K, keep the basis_coef_topk largest (ties to the lower index)
//   approx = coef basis                            [N-1, N]   (over the basis non-zeros)
//   key_index[b, h, i-1, :] = topk_select(approx row, budget)  (ties to the lower key index)
#include "core/platform/isa.h"
#include <array>
#include <cstdint>
#include <vector>

#include "core/masks/compact_basis.h"
#include "weights/deit_weights.h"

namespace sparsifiner {

// Work done by one predict() call, for the profiler: multiply-accumulates of each product
// (summed over images and heads) and the basis non-zeros that were used.
struct PredictorCounts {
    long long basis_nnz = 0;        // non-zeros of the basis restricted to the alive columns
    long long macs_qc = 0;          // q Wq^T
    long long macs_kc = 0;          // k Wk^T
    long long macs_kl = 0;          // kc^T proj_n
    long long macs_cheap = 0;       // qc kl (non-cls rows)
    long long macs_coef_basis = 0;  // coef basis, counted over the basis non-zeros of the kept coefs
    long long coef_basis_reads = 0; // basis floats the coef basis product read (dense rows: zeros too)
    long long basis_bytes = 0;      // bytes of the stored basis the product read from
    long long total() const { return macs_qc + macs_kc + macs_kl + macs_cheap + macs_coef_basis; }
};

// The phases of predict(), for the profiler (issue 5): alive_slice restricts proj_n and the basis
// to the alive tokens (with token positions only); then SPEC 2's products and selections: qc, kc,
// kl (with the transpose of kc), cheap, coef_topk (coef softmax and its top-k), coef_basis, key_topk.
enum class PredictorPhase { alive_slice, qc, kc, kl, cheap, coef_topk, coef_basis, key_topk, count };
// Wall seconds per phase. qc..kl and cheap..key_topk run inside two parallel loops where threads
// overlap: each thread sums its own time per phase, and each loop's wall time is split between its
// phases in proportion to those sums ("apportioned"; with one thread, each phase's own time).
using PredictorSeconds = std::array<double, static_cast<size_t>(PredictorPhase::count)>;

// The predictor's code paths: portable C++ and AVX2+FMA (products, coefficient softmax, basis
// combination, top-k). Both run the same float operations in the same order (every product a
// fused multiply-add, see core/masks/coef_softmax.h) and give bit-identical masks; the tests run both.

class MaskPredictor {
public:
    MaskPredictor() = default;
    // pred_q_w, pred_k_w [c, d]; pred_q_b, pred_k_b [c]; proj_n, proj_back_n [N, K] (N = the token
    // count the predictor was trained for). Throws std::invalid_argument on a bad geometry.
    MaskPredictor(const float* pred_q_w, const float* pred_q_b, const float* pred_k_w, const float* pred_k_b,
                  const float* proj_n, const float* proj_back_n, int H, int d, int c, int N, int K,
                  float basis_threshold, int basis_coef_topk);
    // The same from a loaded block (config.sparsifiner must be true).
    MaskPredictor(const DeitBlockWeights& block, const DeitConfig& config);

    // qkv [B, N_alive, 3D]; token_positions [N_alive]: the alive tokens' original indices,
    // strictly ascending, in [0, N) (nullptr: all N tokens, N_alive must equal N). budget is
    // clamped to [1, N_alive]; key_index [B, H, N_alive - 1, budget]. Returns the budget used.
    // counts, when given, receives this call's work; seconds, when given, has this call's phase
    // times added (a few clock reads per (image, head) and per query row; none without it).
    // Parallel over (image, head).
    int predict(const float* qkv, int B, int N_alive, int budget, const int32_t* token_positions,
                int32_t* key_index, PredictorCounts* counts = nullptr, PredictorSeconds* seconds = nullptr) const;

    // Runs a given path instead of the best one (for tests); throws std::invalid_argument when the
    // CPU cannot run it.
    void force_isa(Isa isa);
    Isa isa() const { return isa_; }

    int heads() const { return H_; }
    int tokens() const { return N_; }        // the N of proj_n
    int compressed() const { return K_; }    // K
    long long basis_nnz() const { return basis_.nnz(); }

private:
    Isa isa_ = isa_best();
    int H_ = 0, d_ = 0, c_ = 0, N_ = 0, K_ = 0, coef_topk_ = 0;
    int cp_ = 0, kp_ = 0;              // c and K rounded up to whole column blocks (zero padded)
    std::vector<float> wq_t_, wk_t_;   // [d, cp]: transposed so the inner loops run over c
    std::vector<float> bq_, bk_;       // [cp]
    std::vector<float> proj_n_;        // [N, kp]
    // basis = |proj_back_n|^T [K, N] with entries <= threshold dropped.
    CompactBasis basis_;
};

}  // namespace sparsifiner
