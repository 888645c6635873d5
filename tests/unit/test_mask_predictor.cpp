// The connectivity predictor (core/masks/mask_predictor.cpp): a tiny case worked by hand, the threshold
// and basis_coef_topk effects, a random case against a plain double-precision reference of
// SPEC 2 steps 1-7 written here, and token pruning against a predictor built on sliced weights.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "core/masks/compact_basis.h"
#include "core/masks/mask_predictor.h"
#include "core/platform/threading.h"
#include "tests/unit/random_predictor.h"

using namespace sparsifiner;
using test_support::PredictorScales;
using test_support::RandomPredictorWeights;

namespace {

// The hand case: H = 1, d = 2, c = 2, N = 5, K = 2. Wq = Wk = identity, zero biases, so qc = q
// and kc = k. proj_n has rows [1,0], [0,1], 0, 0, 0, so kl = [k_0; k_1]^T = identity with
// k_0 = [1,0], k_1 = [0,1] (keys 2..4 are multiplied by zero rows and cannot matter) and
// cheap_i = q_i (H^-0.5 = 1). basis = |proj_back_n|^T:
//   row 0 = [0.9, 0.01, 0.5, 0.3,  0.7]
//   row 1 = [0.1, 0.8,  0.6, 0.02, 0.4]
// With threshold 0.02, 0.01 and 0.02 (equal, "<=") are dropped: 8 non-zeros.
const float kWq[] = {1, 0, 0, 1}, kWk[] = {1, 0, 0, 1}, kZero[] = {0, 0};
const float kProjN[] = {1, 0, 0, 1, 0, 0, 0, 0, 0, 0};
const float kProjBackN[] = {0.9f, -0.1f, -0.01f, 0.8f, 0.5f, 0.6f, 0.3f, -0.02f, -0.7f, 0.4f};

// qkv rows [q0 q1 k0 k1 v0 v1]: q_0 (cls, dropped) = [5,5], q_1 = [1,0], q_2 = [0,1],
// q_3 = [0.2,0], q_4 = [-1,-2].
const std::vector<float> kQkv = {5, 5,   1, 0, 9, 9,  1, 0,    0, 1, 9, 9,  0, 1,  3, -1, 9, 9,
                                 0.2f, 0, 3, -1, 9, 9, -1, -2, 3, -1, 9, 9};

std::vector<int32_t> run_hand(float threshold, int coef_topk, int budget, PredictorCounts* counts = nullptr) {
    MaskPredictor predictor(kWq, kZero, kWk, kZero, kProjN, kProjBackN, 1, 2, 2, 5, 2, threshold, coef_topk);
    const int used = std::min(std::max(budget, 1), 5);
    std::vector<int32_t> index(4 * used, -1);
    CHECK(predictor.predict(kQkv.data(), 1, 5, budget, nullptr, index.data(), counts) == used);
    return index;
}

}  // namespace

TEST_CASE("predictor: hand-worked case, one basis coefficient") {
    // coef_topk = 1: each row follows the basis row of its largest cheap score, argmax(q_i) with
    // ties to the lower index: q_1 -> 0, q_2 -> 1, q_3 -> 0, q_4 ([-1,-2]) -> 0.
    // Top 2 of row 0 = {0 (0.9), 4 (0.7)}; of row 1 = {1 (0.8), 2 (0.6)}.
    PredictorCounts counts;
    CHECK(run_hand(0.02f, 1, 2, &counts) == std::vector<int32_t>{0, 4, 1, 2, 0, 4, 0, 4});
    CHECK(counts.basis_nnz == 8);
    CHECK(counts.macs_qc == 5 * 2 * 2);
    CHECK(counts.macs_kc == 5 * 2 * 2);
    CHECK(counts.macs_kl == 5 * 2 * 2);
    CHECK(counts.macs_cheap == 4 * 2 * 2);
    CHECK(counts.macs_coef_basis == 4 * 4);  // four rows, each using one basis row of 4 non-zeros
    // Budget 3 adds 2 (0.5) to row 0's picks and 4 (0.4) to row 1's.
    CHECK(run_hand(0.02f, 1, 3) == std::vector<int32_t>{0, 2, 4, 1, 2, 4, 0, 2, 4, 0, 2, 4});
    // The budget is clamped to [1, N].
    CHECK(run_hand(0.02f, 1, 0) == std::vector<int32_t>{0, 1, 0, 0});
    const std::vector<int32_t> all = {0, 1, 2, 3, 4};
    std::vector<int32_t> every_row;
    for (int r = 0; r < 4; r++) every_row.insert(every_row.end(), all.begin(), all.end());
    CHECK(run_hand(0.02f, 1, 9) == every_row);
}

TEST_CASE("predictor: the threshold zeroes basis entries, zero scores tie to the lower index") {
    // Threshold 0.45: row 0 = [0.9, 0, 0.5, 0, 0.7], row 1 = [0, 0.8, 0.6, 0, 0], 5 non-zeros.
    // Budget 4: row 0 picks 0, 4, 2 and then 1 among the zeros {1, 3}; row 1 picks 1, 2, then 0, 3.
    PredictorCounts counts;
    std::vector<int32_t> index = run_hand(0.45f, 1, 4, &counts);
    CHECK(counts.basis_nnz == 5);
    CHECK(index == std::vector<int32_t>{0, 1, 2, 4, 0, 1, 2, 3, 0, 1, 2, 4, 0, 1, 2, 4});
}

TEST_CASE("predictor: two basis coefficients mix the rows") {
    // q_3 = [0.2, 0]: coef = softmax([0.2, 0]) = [0.54983, 0.45017], approx =
    // [0.5398, 0.3601, 0.5450, 0.1649, 0.5650] -> top 2 = {4, 2} instead of {0, 4}.
    // q_1 and q_4 (coef [0.7311, 0.2689]): approx = [0.685, 0.215, 0.527, 0.219, 0.619] -> {0, 4}.
    // q_2 (coef [0.2689, 0.7311]): approx = [0.315, 0.585, 0.573, 0.081, 0.481] -> {1, 2}.
    PredictorCounts counts;
    CHECK(run_hand(0.02f, 2, 2, &counts) == std::vector<int32_t>{0, 4, 1, 2, 2, 4, 0, 4});
    CHECK(counts.macs_coef_basis == 4 * 8);
}

namespace {

// Relative gap at the cut of a top-k: (s_(k) - s_(k+1)) / max|s| with s_(j) the j-th largest, as
// the PyTorch reference defines it (tests/reference/sparsifiner_ref.py cut_margin); an exact tie
// of two zeros is +inf (computed exactly anywhere, resolved by index).
double cut_margin(std::vector<double> s, int k) {
    if (k >= static_cast<int>(s.size())) return INFINITY;
    std::sort(s.begin(), s.end(), std::greater<double>());
    double largest = 0;
    for (double v : s) largest = std::max(largest, std::fabs(v));
    if (s[k - 1] == 0 && s[k] == 0) return INFINITY;
    return (s[k - 1] - s[k]) / std::max(largest, 1e-300);
}

// SPEC 2 steps 1-7 in double precision with dense matrices, for one image [N, 3, H, d] and head h:
// the kept keys of every non-cls query row, appended to *keys, and (when margins is given) per row
// the smaller of the two cut margins (coefficient top-k and key top-k).
void reference_head(const float* image, int H, int h, const RandomPredictorWeights& w, float threshold,
                    int coef_topk, int budget, std::vector<int32_t>* keys, std::vector<double>* margins) {
    const int N = w.N, d = w.d, c = w.c, K = w.K, D = H * d;
    std::vector<double> qc(N * c), kc(N * c), kl(c * K, 0.0);
    for (int i = 0; i < N; i++)
        for (int a = 0; a < c; a++) {
            double sq = w.bq[a], sk = w.bk[a];
            for (int t = 0; t < d; t++) {
                sq += double(w.wq[a * d + t]) * image[i * 3 * D + h * d + t];
                sk += double(w.wk[a * d + t]) * image[i * 3 * D + D + h * d + t];
            }
            qc[i * c + a] = sq;
            kc[i * c + a] = sk;
        }
    for (int a = 0; a < c; a++)
        for (int m = 0; m < K; m++)
            for (int i = 0; i < N; i++) kl[a * K + m] += kc[i * c + a] * w.proj_n[i * K + m];
    for (int i = 1; i < N; i++) {
        std::vector<double> coef(K);
        for (int m = 0; m < K; m++) {
            double s = 0;
            for (int a = 0; a < c; a++) s += qc[i * c + a] * kl[a * K + m];
            coef[m] = s / std::sqrt(double(H));
        }
        const double top = *std::max_element(coef.begin(), coef.end());
        double sum = 0;
        for (double& x : coef) sum += x = std::exp(x - top);
        for (double& x : coef) x /= sum;
        std::vector<int> order(K);
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](int x, int y) { return coef[x] > coef[y]; });
        std::vector<double> approx(N, 0.0);
        for (int e = 0; e < std::min(coef_topk, K); e++)
            for (int n = 0; n < N; n++) {
                const double v = std::fabs(w.proj_back_n[n * K + order[e]]);
                if (v > threshold) approx[n] += coef[order[e]] * v;
            }
        std::vector<int> row(N);
        std::iota(row.begin(), row.end(), 0);
        std::stable_sort(row.begin(), row.end(), [&](int x, int y) { return approx[x] > approx[y]; });
        row.resize(budget);
        std::sort(row.begin(), row.end());
        keys->insert(keys->end(), row.begin(), row.end());
        if (margins) margins->push_back(std::min(cut_margin(coef, coef_topk), cut_margin(approx, budget)));
    }
}

// The kept keys of one image and head, in double precision.
std::vector<int32_t> predictor_reference(const std::vector<float>& qkv, int H, int h, const RandomPredictorWeights& w,
                                         float threshold, int coef_topk, int budget) {
    std::vector<int32_t> keys;
    reference_head(qkv.data(), H, h, w, threshold, coef_topk, budget, &keys, nullptr);
    return keys;
}

}  // namespace

TEST_CASE("predictor: random weights against a double-precision reference") {
    const int B = 2, H = 2, d = 8, c = 4, N = 12, K = 3, coef_topk = 2, budget = 5;
    // 0.3 keeps ~76% of the basis (bitmap format), 1.9 ~6% (list format).
    for (const float threshold : {0.3f, 1.9f}) {
        CAPTURE(threshold);
        std::mt19937 rng(21);
        const RandomPredictorWeights w(d, c, N, K, rng, PredictorScales{});
        auto qkv = test_support::normal_floats(rng, static_cast<size_t>(B) * N * 3 * H * d, 1.f);
        MaskPredictor predictor = w.make(H, threshold, coef_topk);
        std::vector<int32_t> index(static_cast<size_t>(B) * H * (N - 1) * budget);
        predictor.predict(qkv.data(), B, N, budget, nullptr, index.data());
        for (int b = 0; b < B; b++)
            for (int h = 0; h < H; h++) {
                std::vector<float> image(qkv.begin() + b * N * 3 * H * d, qkv.begin() + (b + 1) * N * 3 * H * d);
                auto want = predictor_reference(image, H, h, w, threshold, coef_topk, budget);
                std::vector<int32_t> got(index.begin() + (b * H + h) * (N - 1) * budget,
                                         index.begin() + (b * H + h + 1) * (N - 1) * budget);
                CAPTURE(b);
                CAPTURE(h);
                CHECK(got == want);
            }
    }
}

TEST_CASE("predictor: token positions equal a predictor built on the sliced proj_n and basis") {
    const int H = 3, d = 16, c = 8, N = 30, K = 5, B = 2, budget = 7;
    std::mt19937 rng(8);
    const RandomPredictorWeights w(d, c, N, K, rng, PredictorScales{0.3f, 0.3f, 0.3f, 0.3f});
    const std::vector<int32_t> positions = {0, 1, 4, 5, 6, 9, 13, 14, 20, 22, 23, 27, 29};
    const int alive = static_cast<int>(positions.size());
    std::vector<float> pn_sliced, pbn_sliced;
    for (int p : positions) {
        pn_sliced.insert(pn_sliced.end(), w.proj_n.begin() + p * K, w.proj_n.begin() + (p + 1) * K);
        pbn_sliced.insert(pbn_sliced.end(), w.proj_back_n.begin() + p * K, w.proj_back_n.begin() + (p + 1) * K);
    }
    auto qkv = test_support::normal_floats(rng, static_cast<size_t>(B) * alive * 3 * H * d, 0.3f);
    MaskPredictor full = w.make(H, 0.1f, 3);
    MaskPredictor sliced(w.wq.data(), w.bq.data(), w.wk.data(), w.bk.data(), pn_sliced.data(), pbn_sliced.data(), H, d,
                         c, alive, K, 0.1f, 3);
    std::vector<int32_t> got(static_cast<size_t>(B) * H * (alive - 1) * budget), want(got.size());
    PredictorCounts got_counts, want_counts;
    full.predict(qkv.data(), B, alive, budget, positions.data(), got.data(), &got_counts);
    sliced.predict(qkv.data(), B, alive, budget, nullptr, want.data(), &want_counts);
    CHECK(got == want);
    CHECK(got_counts.basis_nnz == want_counts.basis_nnz);
    CHECK(got_counts.macs_coef_basis == want_counts.macs_coef_basis);
    CHECK(got_counts.basis_nnz < full.basis_nnz());

    // Bad positions and token counts are errors, not crashes.
    const std::vector<int32_t> unordered = {0, 3, 2};
    const std::vector<int32_t> outside = {0, 3, 30};
    CHECK_THROWS(full.predict(qkv.data(), 1, 3, 2, unordered.data(), got.data()));
    CHECK_THROWS(full.predict(qkv.data(), 1, 3, 2, outside.data(), got.data()));
    CHECK_THROWS(full.predict(qkv.data(), 1, alive, 2, nullptr, got.data()));
    CHECK_THROWS(MaskPredictor(w.wq.data(), w.bq.data(), w.wk.data(), w.bk.data(), w.proj_n.data(),
                               w.proj_back_n.data(), H, d, c, N, 0, 0.1f, 3));
}

TEST_CASE("predictor: widths that are not whole column blocks, many kept coefficients") {
    // c and K are padded to blocks of 16 inside the predictor and the basis rows are combined four
    // at a time: c = 5 and 21, K = 20 and coef_topk 6 and 9 (4 + 2 and 4 + 4 + 1 rows) exercise the
    // padding and every combination tail; N = 53 leaves a tail of rows after the blocks of four.
    const int B = 1, H = 2, d = 64, N = 53, K = 20, budget = 13;
    const float threshold = 0.4f;
    for (int c : {5, 21})
        for (int coef_topk : {6, 9}) {
            std::mt19937 rng(100 + c + coef_topk);
            const RandomPredictorWeights w(d, c, N, K, rng, PredictorScales{0.3f, 0.3f, 0.3f, 1.f});
            auto qkv = test_support::normal_floats(rng, static_cast<size_t>(B) * N * 3 * H * d, 1.f);
            MaskPredictor predictor = w.make(H, threshold, coef_topk);
            std::vector<int32_t> index(static_cast<size_t>(B) * H * (N - 1) * budget, -1);
            predictor.predict(qkv.data(), B, N, budget, nullptr, index.data());
            for (int h = 0; h < H; h++) {
                auto want = predictor_reference(qkv, H, h, w, threshold, coef_topk, budget);
                std::vector<int32_t> got(index.begin() + h * (N - 1) * budget,
                                         index.begin() + (h + 1) * (N - 1) * budget);
                CAPTURE(c);
                CAPTURE(coef_topk);
                CAPTURE(h);
                CHECK(got == want);
            }
        }
}

TEST_CASE("predictor: several row blocks per head and a row tail, batch and thread count do not matter") {
    // N = 139: 138 query rows per head, split into parallel blocks of rows with a tail that is not
    // a multiple of four. Every (image, head) must equal the double-precision reference, an image
    // predicted alone must equal the same image inside a batch, and one thread must give exactly
    // what two give.
    const int B = 2, H = 2, d = 16, c = 8, N = 139, K = 10, coef_topk = 3, budget = 35;
    const float threshold = 0.2f;
    std::mt19937 rng(57);
    const RandomPredictorWeights w(d, c, N, K, rng, PredictorScales{0.4f, 0.2f, 0.3f, 0.5f});
    auto qkv = test_support::normal_floats(rng, static_cast<size_t>(B) * N * 3 * H * d, 1.f);
    MaskPredictor predictor = w.make(H, threshold, coef_topk);
    const size_t per_image = static_cast<size_t>(H) * (N - 1) * budget;
    const int saved_threads = threads_get();
    std::vector<int32_t> one_thread(B * per_image, -1), two_threads(B * per_image, -2), alone(per_image, -3);
    threads_set(1);
    predictor.predict(qkv.data(), B, N, budget, nullptr, one_thread.data());
    threads_set(2);
    predictor.predict(qkv.data(), B, N, budget, nullptr, two_threads.data());
    predictor.predict(qkv.data() + static_cast<size_t>(N) * 3 * H * d, 1, N, budget, nullptr, alone.data());
    threads_set(saved_threads);
    CHECK(one_thread == two_threads);
    CHECK(std::equal(alone.begin(), alone.end(), one_thread.begin() + per_image));
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            std::vector<float> image(qkv.begin() + b * N * 3 * H * d, qkv.begin() + (b + 1) * N * 3 * H * d);
            auto want = predictor_reference(image, H, h, w, threshold, coef_topk, budget);
            std::vector<int32_t> got(one_thread.begin() + (b * H + h) * (N - 1) * budget,
                                     one_thread.begin() + (b * H + h + 1) * (N - 1) * budget);
            CAPTURE(b);
            CAPTURE(h);
            CHECK(got == want);
        }
}

// The compact basis (core/masks/compact_basis.cpp) on its own: both formats, the AVX2 and the portable
// kernel, against a plain double sum over a dense copy written here. Sizes around the 8-column
// groups of the bitmap (1, 7, 8, 9, 61), densities from empty to full, repeated and unsorted rows.
TEST_CASE("compact basis: both formats and kernels equal a dense weighted sum") {
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> uniform(0.f, 1.f);
    for (int cols : {1, 7, 8, 9, 61}) {
        for (float density : {0.f, 0.03f, 0.33f, 1.f}) {
            const int rows = 6;
            std::vector<float> dense(static_cast<size_t>(rows) * cols);
            for (auto& x : dense) x = uniform(rng) < density ? 0.1f + uniform(rng) : 0.f;
            auto fill = [&](int m, float* row) { std::copy_n(dense.begin() + m * cols, cols, row); };
            const int32_t used[] = {4, 0, 5, 4, 2};
            const float weight[] = {0.5f, -1.25f, 2.f, 0.125f, 3.f};
            std::vector<double> want(cols, 0.0);
            for (int e = 0; e < 5; e++)
                for (int n = 0; n < cols; n++) want[n] += double(weight[e]) * dense[used[e] * cols + n];
            for (auto format : {CompactBasis::Format::bitmap, CompactBasis::Format::list, CompactBasis::Format::dense}) {
                CompactBasis basis(rows, cols, fill, format);
                CAPTURE(cols);
                CAPTURE(density);
                CAPTURE(static_cast<int>(format));
                long long nnz = 0;
                std::vector<float> row(cols);
                for (int m = 0; m < rows; m++) {
                    long long row_nnz = 0;
                    for (int n = 0; n < cols; n++) row_nnz += dense[m * cols + n] != 0.f;
                    CHECK(basis.row_nnz(m) == row_nnz);
                    nnz += row_nnz;
                    basis.expand_row(m, row.data());
                    CHECK(std::equal(row.begin(), row.end(), dense.begin() + m * cols));
                }
                CHECK(basis.nnz() == nnz);
                // Poisoned buffers: every entry, padding included, must be written.
                std::vector<float> fast(basis.padded_cols(), NAN), portable(basis.padded_cols(), NAN);
                basis.combine(used, weight, 5, fast.data());
                basis.combine_portable(used, weight, 5, portable.data());
                for (int n = 0; n < basis.padded_cols(); n++) {
                    const double expect = n < cols ? want[n] : 0.0;
                    CHECK(fast[n] == doctest::Approx(expect).epsilon(1e-6));
                    CHECK(portable[n] == doctest::Approx(expect).epsilon(1e-6));
                }
            }
        }
    }
}

TEST_CASE("compact basis: the format follows the size and the density") {
    // 1024 x 640 floats = 2.5 MB: over the 2 MB up to which the dense rows are kept whatever the density.
    const int rows = 1024, cols = 640;
    auto with_nonzeros = [&](int per_row) {
        return CompactBasis(rows, cols, [&](int, float* row) {
            for (int n = 0; n < cols; n++) row[n] = n < per_row ? 1.f : 0.f;
        });
    };
    CHECK(with_nonzeros(39).format() == CompactBasis::Format::list);     // 39/640 < 1/16
    CHECK(with_nonzeros(40).format() == CompactBasis::Format::dense);    // 40/640 = 1/16
    CHECK(with_nonzeros(213).format() == CompactBasis::Format::dense);   // ~1/3, as trained bases
    // Past kDenseBasisMaxBytes (64 MB) a basis that is not sparse goes to the bitmap.
    const int big_cols = static_cast<int>(kDenseBasisMaxBytes / 4 / 1024) + 1;
    CHECK(CompactBasis(1024, big_cols, [&](int, float* row) {
              for (int n = 0; n < big_cols; n++) row[n] = n % 3 == 0 ? 1.f : 0.f;
          }).format() == CompactBasis::Format::bitmap);
    // 1024 x 512 floats = 2 MB exactly: dense rows, even with one non-zero per row.
    CHECK(CompactBasis(1024, 512, [](int, float* row) { std::fill_n(row, 512, 0.f); row[0] = 1.f; }).format() ==
          CompactBasis::Format::dense);
    INFO("AVX2 kernel tested above: " << (compact_basis_avx2_supported() ? "yes" : "no (portable only)"));
}

TEST_CASE("compact basis: the columns of the alive tokens, sliced from every format") {
    const int rows = 7, cols = 45;
    std::mt19937 rng(21);
    std::uniform_real_distribution<float> unit(0.f, 1.f);
    std::vector<float> dense(static_cast<size_t>(rows) * cols);
    for (float& v : dense) v = unit(rng) < 0.35f ? 0.1f + unit(rng) : 0.f;
    const std::vector<int32_t> positions = {0, 2, 3, 8, 9, 10, 17, 31, 32, 40, 44};
    const int alive = static_cast<int>(positions.size());
    for (auto format : {CompactBasis::Format::dense, CompactBasis::Format::bitmap, CompactBasis::Format::list}) {
        const CompactBasis full(rows, cols, [&](int m, float* row) { std::copy_n(dense.data() + m * cols, cols, row); },
                                format);
        CompactBasis sliced;
        sliced.assign_columns(full, positions.data(), alive);
        CAPTURE(static_cast<int>(format));
        CHECK(sliced.rows() == rows);
        CHECK(sliced.cols() == alive);
        long long nnz = 0;
        std::vector<float> row(alive);
        for (int m = 0; m < rows; m++) {
            sliced.expand_row(m, row.data());
            long long row_nnz = 0;
            for (int i = 0; i < alive; i++) {
                CHECK(row[i] == dense[static_cast<size_t>(m) * cols + positions[i]]);
                row_nnz += row[i] != 0.f;
            }
            CHECK(sliced.row_nnz(m) == row_nnz);
            nnz += row_nnz;
        }
        CHECK(sliced.nnz() == nnz);
        // Combining the slice equals combining the full rows at the alive columns.
        const int32_t used[] = {3, 0, 6};
        const float weight[] = {0.5f, 1.5f, 0.25f};
        std::vector<float> got(sliced.padded_cols(), NAN), whole(full.padded_cols(), NAN);
        sliced.combine(used, weight, 3, got.data());
        full.combine(used, weight, 3, whole.data());
        for (int i = 0; i < alive; i++) CHECK(got[i] == whole[positions[i]]);
        const int32_t outside[] = {0, cols};
        CHECK_THROWS(sliced.assign_columns(full, outside, 2));
    }
}

namespace {

// SPEC 2 steps 1-7 in double for every (image, head, query row) of qkv [B, N, 3, H, d]: the kept
// keys [B, H, N-1, budget] and per row the smaller of the two cut margins.
void predictor_reference_margins(const std::vector<float>& qkv, int B, int H, const RandomPredictorWeights& w,
                                 float threshold, int coef_topk, int budget, std::vector<int32_t>* keys,
                                 std::vector<double>* margins) {
    keys->clear();
    margins->clear();
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            reference_head(qkv.data() + static_cast<size_t>(b) * w.N * 3 * H * w.d, H, h, w, threshold, coef_topk,
                           budget, keys, margins);
}

}  // namespace

TEST_CASE("predictor: float32 masks equal a double evaluation on every row not a near-tie, in every path") {
    // DeiT-S and DeiT-Ti predictor geometry at 224 (N = 197, d = 64, c = 32, K = 32, top-8
    // coefficients, 50 keys), with the PyTorch reference's seeded scales (q and k of std 2, Wq and
    // Wk of std 0.5 / sqrt(d), proj_n 0.5 / sqrt(N), proj_back_n 0.02: logits of spread ~3). The
    // predictor's own float32 error (same float inputs as the double evaluation) may flip only
    // rows whose double margin is at most 1e-6 relative; the paths must agree bit for bit.
    const int B = 4, d = 64, c = 32, N = 197, K = 32, coef_topk = 8, budget = 50;
    const float threshold = 0.02f;
    const double near_tie = 1e-6;
    for (int H : {6, 3}) {
        CAPTURE(H);
        std::mt19937 rng(300 + H);
        const RandomPredictorWeights w(
            d, c, N, K, rng,
            PredictorScales{0.5f / std::sqrt(float(d)), 0.1f, 0.5f / std::sqrt(float(N)), 0.02f});
        const auto qkv = test_support::normal_floats(rng, static_cast<size_t>(B) * N * 3 * H * d, 2.f);
        std::vector<int32_t> want;
        std::vector<double> margins;
        predictor_reference_margins(qkv, B, H, w, threshold, coef_topk, budget, &want, &margins);
        long near_ties = 0;
        double smallest = INFINITY;
        for (double m : margins) near_ties += m <= near_tie, smallest = std::min(smallest, m);
        std::vector<int32_t> first;
        for (Isa isa : {Isa::portable, Isa::avx2, Isa::avx512}) {
            if (!isa_supported(isa)) continue;
            CAPTURE(std::string(isa_name(isa)));
            MaskPredictor predictor = w.make(H, threshold, coef_topk);
            predictor.force_isa(isa);
            std::vector<int32_t> got(want.size(), -1);
            predictor.predict(qkv.data(), B, N, budget, nullptr, got.data());
            long clear_flips = 0, tie_flips = 0;
            for (size_t r = 0; r < margins.size(); r++) {
                const bool same = std::equal(got.begin() + r * budget, got.begin() + (r + 1) * budget,
                                             want.begin() + r * budget);
                if (!same) (margins[r] > near_tie ? clear_flips : tie_flips)++;
            }
            MESSAGE("H " << H << ", " << std::string(isa_name(isa)) << ": " << margins.size() << " rows, " << near_ties
                         << " with a margin <= 1e-6 (smallest " << smallest << "), of which " << tie_flips
                         << " differ; rows above it that differ: " << clear_flips);
            CHECK(clear_flips == 0);
            if (first.empty())
                first = got;
            else
                CHECK(got == first);  // bit-identical paths
        }
    }
}
