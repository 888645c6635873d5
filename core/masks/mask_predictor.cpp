#include "core/masks/mask_predictor.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <utility>

#include "core/kernels/topk.h"
#include "core/kernels/transpose.h"
#include "core/masks/coef_select.h"
#include "core/platform/cpu_info.h"
#include "core/kernels/predictor_gemm.h"
#include "core/platform/thread_scratch.h"
#include "core/platform/threading.h"
#include "core/platform/timing.h"

namespace sparsifiner {

namespace {

// Column padding of every [*, cols] product operand (see core/kernels/predictor_gemm.h).
constexpr int kColBlock = kPredictorColBlock;
// Query rows per parallel task of the per-row stage: a multiple of four (see predict()).
constexpr int kRowBlock = 64;
int pad_cols(int cols) { return predictor_pad_cols(cols); }

// Adds a parallel region's wall time to its phases, split in proportion to the thread time each
// phase took (threads overlap, so thread times add up to more than the wall; issue 5).
void apportion(double wall, std::initializer_list<std::pair<PredictorPhase, double>> busy, PredictorSeconds& seconds) {
    double total_busy = 0;
    for (const auto& phase : busy) total_busy += phase.second;
    if (total_busy <= 0) return;
    for (const auto& phase : busy) seconds[static_cast<size_t>(phase.first)] += wall * phase.second / total_busy;
}

// Thread time per phase: mark() returns the seconds since the previous mark (or since
// construction) and starts the next lap. Untimed, it never reads the clock and returns 0.
class PhaseClock {
public:
    explicit PhaseClock(bool timed) : timed_(timed), lap_(timed ? seconds_now() : 0) {}
    double mark() {
        if (!timed_) return 0;
        const double now = seconds_now(), spent = now - lap_;
        lap_ = now;
        return spent;
    }

private:
    bool timed_;
    double lap_;
};

}  // namespace

void MaskPredictor::force_isa(Isa isa) {
    if (!isa_supported(isa))
        throw std::invalid_argument(std::string("mask predictor: this CPU cannot run the ") + isa_name(isa) +
                                    " path");
    isa_ = isa;
}

MaskPredictor::MaskPredictor(const float* pred_q_w, const float* pred_q_b, const float* pred_k_w,
                             const float* pred_k_b, const float* proj_n, const float* proj_back_n, int H, int d,
                             int c, int N, int K, float basis_threshold, int basis_coef_topk)
    : H_(H), d_(d), c_(c), N_(N), K_(K), coef_topk_(std::min(std::max(basis_coef_topk, 1), std::max(K, 1))) {
    if (H <= 0 || d <= 0 || c <= 0 || N <= 1 || K <= 0)
        throw std::invalid_argument("mask predictor: bad geometry H=" + std::to_string(H) + " d=" + std::to_string(d) +
                                    " c=" + std::to_string(c) + " N=" + std::to_string(N) + " K=" + std::to_string(K));
    // Products run over column blocks of 16 (see gemm_rows): c and K are padded with zero columns.
    cp_ = pad_cols(c);
    kp_ = pad_cols(K);
    wq_t_.assign(static_cast<size_t>(d) * cp_, 0.f);
    wk_t_.assign(static_cast<size_t>(d) * cp_, 0.f);
    for (int a = 0; a < c; a++)
        for (int t = 0; t < d; t++) {
            wq_t_[static_cast<size_t>(t) * cp_ + a] = pred_q_w[static_cast<size_t>(a) * d + t];
            wk_t_[static_cast<size_t>(t) * cp_ + a] = pred_k_w[static_cast<size_t>(a) * d + t];
        }
    bq_.assign(cp_, 0.f);
    bk_.assign(cp_, 0.f);
    std::copy(pred_q_b, pred_q_b + c, bq_.begin());
    std::copy(pred_k_b, pred_k_b + c, bk_.begin());
    proj_n_.assign(static_cast<size_t>(N) * kp_, 0.f);
    for (int n = 0; n < N; n++)
        std::copy(proj_n + static_cast<size_t>(n) * K, proj_n + static_cast<size_t>(n + 1) * K,
                  proj_n_.begin() + static_cast<size_t>(n) * kp_);
    // basis[m][n] = |proj_back_n[n][m]|, kept only above the threshold (SPEC 2, step 5). A NaN
    // weight fails the comparison and is dropped rather than poisoning every score.
    basis_ = CompactBasis(K, N, [&](int m, float* row) {
        for (int n = 0; n < N; n++) {
            const float v = std::fabs(proj_back_n[static_cast<size_t>(n) * K + m]);
            row[n] = v > basis_threshold ? v : 0.f;
        }
    });
}

MaskPredictor::MaskPredictor(const DeitBlockWeights& block, const DeitConfig& config)
    : MaskPredictor(block.pred_q_w.data(), block.pred_q_b.data(), block.pred_k_w.data(), block.pred_k_b.data(),
                    block.proj_n.data(), block.proj_back_n.data(), config.num_heads, config.head_dim(),
                    config.predictor_c, config.predictor_N, config.predictor_K, config.basis_threshold,
                    config.basis_coef_topk) {
    if (!config.sparsifiner || block.proj_n.size() != static_cast<size_t>(N_) * K_ ||
        block.proj_back_n.size() != static_cast<size_t>(N_) * K_ || block.pred_q_w.size() != static_cast<size_t>(c_) * d_ ||
        block.pred_k_w.size() != static_cast<size_t>(c_) * d_ || block.pred_q_b.size() != static_cast<size_t>(c_) ||
        block.pred_k_b.size() != static_cast<size_t>(c_))
        throw std::invalid_argument("mask predictor: the block's predictor tensors do not match the configuration");
}

int MaskPredictor::predict(const float* qkv, int B, int N_alive, int budget, const int32_t* token_positions,
                           int32_t* key_index, PredictorCounts* counts, PredictorSeconds* seconds) const {
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

    // The basis and proj_n restricted to the alive tokens, renumbered (no copy when nothing was
    // pruned). Built by the calling thread, read by every worker.
    const int H = H_, d = d_, K = K_, N = N_alive, D = H_ * d_, cp = cp_, kp = kp_;
    // Timed only when asked: a few clock reads per (image, head) and per query row, nothing else.
    const bool timed = seconds != nullptr;
    PhaseClock wall(timed);  // the calling thread's clock: wall time of each stage
    const CompactBasis* basis = &basis_;
    const float* proj_n = proj_n_.data();
    thread_local CompactBasis sliced_basis;
    thread_local std::vector<float> sliced_proj_n;
    if (token_positions) {
        sliced_basis.assign_columns(basis_, token_positions, N);
        sliced_proj_n.resize(static_cast<size_t>(N) * kp);
        for (int i = 0; i < N; i++)
            std::copy(proj_n_.begin() + static_cast<size_t>(token_positions[i]) * kp,
                      proj_n_.begin() + static_cast<size_t>(token_positions[i] + 1) * kp,
                      sliced_proj_n.begin() + static_cast<size_t>(i) * kp);
        basis = &sliced_basis;
        proj_n = sliced_proj_n.data();
        if (timed) (*seconds)[static_cast<size_t>(PredictorPhase::alive_slice)] += wall.mark();
    }

    const long long row_stride = 3LL * D;
    // H^-0.5 rounded once to float, as PyTorch rounds the Python scalar of `cheap * scale`.
    const float cheap_scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(H)));
    // Every path gives the same values (the same fused multiply-adds in the same order); the
    // portable one is the reference the tests hold the others to.
    const Isa isa = isa_;
    const bool vector = isa != Isa::portable;
    const int coef_topk = coef_topk_;
    const int c = c_;
    const int BH = B * H;

    // Phase 1: qc [N, cp] per (image, head), and kl [cp, kp] = kc^T proj_n, kept for phase 2 (a
    // few MB at N = 4097). kc goes through per-thread scratch into kc^T [cp, N] per head, which
    // stay side by side for the image, so that kl is one product per image over all its heads'
    // rows: proj_n ([N, kp], 11 MB at N = 4097) is then streamed once per image, not once per
    // head. Each kl entry still adds its terms in the same order: the same bits as per head.
    const size_t n_cp = static_cast<size_t>(N) * cp, cp_kp = static_cast<size_t>(cp) * kp;
    // Aligned scratch (thread_scratch.h): the products' vector loads and stores then never split a
    // cache line (a std::vector's data sat 16 bytes past a line, and so did every row).
    float* qc_all = thread_scratch(static_cast<size_t>(BH) * (2 * n_cp + cp_kp), ScratchSlot::prepared);
    float* kl_all = qc_all + static_cast<size_t>(BH) * n_cp;
    float* kc_t_all = kl_all + static_cast<size_t>(BH) * cp_kp;  // [BH, cp, N]; rows c.. cp-1 zero
    wall.mark();
    double qc_busy = 0, kc_busy = 0, kl_busy = 0;  // thread seconds, summed over threads
#pragma omp parallel for schedule(static) reduction(+ : qc_busy, kc_busy)
    for (int bh = 0; bh < BH; bh++) {
        const int b = bh / H, h = bh % H;
        float* kc = thread_scratch(n_cp);
        float* kc_t = kc_t_all + static_cast<size_t>(bh) * n_cp;
        float* qc = qc_all + static_cast<size_t>(bh) * n_cp;
        const float* image = qkv + static_cast<long long>(b) * N * row_stride;
        PhaseClock clock(timed);
        predictor_gemm(isa, image + h * d, row_stride, N, d, wq_t_.data(), cp, bq_.data(), qc);
        qc_busy += clock.mark();
        predictor_gemm(isa, image + D + h * d, row_stride, N, d, wk_t_.data(), cp, bk_.data(), kc);
        // The padded columns of kc are zero weights times zero bias: their kc^T rows are zero, as
        // are their kl rows (never read).
        transpose_rows(isa, kc, N, cp, cp, kc_t, N);
        kc_busy += clock.mark();
    }
    // kl per image, its H * cp rows split between the threads in blocks of eight (the product's
    // row blocking; any split gives the same bits).
    const int kl_rows = H * cp, kl_chunks = std::max(1, std::min(threads_get(), kl_rows / 8));
    const int kl_chunk_rows = (kl_rows / kl_chunks + 7) / 8 * 8;
#pragma omp parallel for collapse(2) schedule(static) reduction(+ : kl_busy)
    for (int b = 0; b < B; b++)
        for (int chunk = 0; chunk < kl_chunks; chunk++) {
            const int first = chunk * kl_chunk_rows, rows_here = std::min(kl_rows, first + kl_chunk_rows) - first;
            if (rows_here <= 0) continue;
            PhaseClock clock(timed);
            const float* x = kc_t_all + static_cast<size_t>(b) * H * n_cp + static_cast<size_t>(first) * N;
            predictor_gemm(isa, x, N, rows_here, N, proj_n, kp, nullptr,
                           kl_all + static_cast<size_t>(b) * H * cp_kp + static_cast<size_t>(first) * kp);
            kl_busy += clock.mark();
        }
    if (timed)
        apportion(wall.mark(),
                  {{PredictorPhase::qc, qc_busy}, {PredictorPhase::kc, kc_busy}, {PredictorPhase::kl, kl_busy}},
                  *seconds);

    // Phase 2, per (image, head, block of query rows): each group of four rows goes from cheap
    // to its key indices while its rows are in L1, with no [N, K] or [N, N] buffer. Blocks start
    // at multiples of four non-cls rows, so the cheap rows split between the four-row kernel and
    // the single-row tail exactly as one product over all rows would (same rounding).
    const int rows = N - 1;
    const int blocks_per_head = (rows + kRowBlock - 1) / kRowBlock;
    long long coef_basis_macs = 0, coef_basis_reads = 0;
    double cheap_busy = 0, coef_topk_busy = 0, coef_basis_busy = 0, key_topk_busy = 0;
#pragma omp parallel for schedule(static) \
    reduction(+ : coef_basis_macs, coef_basis_reads, cheap_busy, coef_topk_busy, coef_basis_busy, key_topk_busy)
    for (int task = 0; task < BH * blocks_per_head; task++) {
        const int bh = task / blocks_per_head;
        const int row_begin = (task % blocks_per_head) * kRowBlock;
        const int row_end = std::min(rows, row_begin + kRowBlock);
        const float* qc = qc_all + static_cast<size_t>(bh) * n_cp;
        const float* kl = kl_all + static_cast<size_t>(bh) * cp_kp;
        // Scratch: cheap [kRowBlock, kp], approx [N padded], the block's kept coefficient indices
        // and weights [kRowBlock, coef_topk].
        const size_t approx_floats = basis->padded_cols();
        const size_t kept_entries = kRowBlock * static_cast<size_t>(coef_topk);
        float* cheap = thread_scratch(kRowBlock * static_cast<size_t>(kp) + approx_floats + 2 * kept_entries);
        float* approx = cheap + kRowBlock * static_cast<size_t>(kp);
        float* kept_weight = approx + approx_floats;
        int32_t* kept = reinterpret_cast<int32_t*>(kept_weight + kept_entries);
        int32_t* out_rows = key_index + static_cast<long long>(bh) * rows * budget;
        // cheap rows row_begin.. = qc rows row_begin + 1.. (the cls row is dropped) times kl, the
        // whole block in one product: each 16-column panel of kl then stays in L1 for every group
        // of four rows (it was reloaded from L2 for each group). Row groups and their arithmetic
        // are the same as before, so the values are too.
        PhaseClock clock(timed);
        predictor_gemm(isa, qc + static_cast<size_t>(row_begin + 1) * cp, cp, row_end - row_begin, c, kl, kp, nullptr, cheap);
        cheap_busy += clock.mark();
        // The coefficients: softmax over K, the largest coef_topk of each row, not renormalised
        // (SPEC 2, step 4); the vector paths take the block's rows a vector's width at a time.
        coef_select_rows(isa, cheap, kp, row_end - row_begin, K, cheap_scale, coef_topk, kept, kept_weight);
        coef_topk_busy += clock.mark();
        for (int r = row_begin; r < row_end; r++) {
            const int32_t* row_kept = kept + static_cast<size_t>(r - row_begin) * coef_topk;
            const float* row_weight = kept_weight + static_cast<size_t>(r - row_begin) * coef_topk;
            for (int e = 0; e < coef_topk; e++) {
                coef_basis_macs += basis->row_nnz(row_kept[e]);
                coef_basis_reads += basis->row_reads(row_kept[e]);
            }
            if (vector)
                basis->combine(row_kept, row_weight, coef_topk, approx);
            else
                basis->combine_portable(row_kept, row_weight, coef_topk, approx);
            coef_basis_busy += clock.mark();
            int32_t* keys = out_rows + static_cast<long long>(r) * budget;
            topk_select_isa(isa, approx, N, budget, keys);
            key_topk_busy += clock.mark();
        }
    }
    if (timed)
        apportion(wall.mark(),
                  {{PredictorPhase::cheap, cheap_busy}, {PredictorPhase::coef_topk, coef_topk_busy},
                   {PredictorPhase::coef_basis, coef_basis_busy}, {PredictorPhase::key_topk, key_topk_busy}},
                  *seconds);

    if (counts) {
        const long long bh = static_cast<long long>(B) * H;
        *counts = PredictorCounts{};
        counts->basis_nnz = basis->nnz();
        counts->macs_qc = bh * N * c * d;
        counts->macs_kc = bh * N * c * d;
        counts->macs_kl = bh * N * c * K;
        counts->macs_cheap = bh * (N - 1) * c * K;
        counts->macs_coef_basis = coef_basis_macs;
        counts->coef_basis_reads = coef_basis_reads;
        counts->basis_bytes = basis->stored_bytes();
    }
    return budget;
}

}  // namespace sparsifiner
