// Sparse attention (core/kernels/sparse_attention*.cpp), every ISA path this CPU runs, against a masked
// dense reference written plainly here in double precision: the N x N score matrix with -inf
// outside the mask, a softmax per row, a product with V.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "core/kernels/attention_dense.h"
#include "core/kernels/sparse_attention.h"
#include "core/platform/threading.h"

using namespace sparsifiner;

namespace {

struct Problem {
    int B, N, H, d, k;
    std::vector<float> qkv;           // [B, N, 3, H, d]
    std::vector<int32_t> key_index;   // [B, H, N-1, k]
};

Problem make_problem(int B, int N, int H, int d, int k, float spread, unsigned seed) {
    Problem p{B, N, H, d, k, {}, {}};
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.f, spread);
    p.qkv.resize(static_cast<size_t>(B) * N * 3 * H * d);
    for (auto& v : p.qkv) v = normal(rng);
    // Each row: k distinct keys drawn uniformly, ascending.
    p.key_index.resize(static_cast<size_t>(B) * H * (N - 1) * k);
    std::vector<int32_t> all(N);
    for (size_t row = 0; row < static_cast<size_t>(B) * H * (N - 1); row++) {
        std::iota(all.begin(), all.end(), 0);
        for (int t = 0; t < k; t++) std::swap(all[t], all[t + rng() % (N - t)]);
        std::sort(all.begin(), all.begin() + k);
        std::copy(all.begin(), all.begin() + k, p.key_index.begin() + row * k);
    }
    return p;
}

// out [B, N, D] and cls_probs [B, H, N] from the masked dense definition (SPEC 2, step 8).
void reference(const Problem& p, std::vector<double>& out, std::vector<double>& cls_probs) {
    const int B = p.B, N = p.N, H = p.H, d = p.d, k = p.k, D = H * d;
    out.assign(static_cast<size_t>(B) * N * D, 0.0);
    cls_probs.assign(static_cast<size_t>(B) * H * N, 0.0);
    std::vector<double> s(static_cast<size_t>(N) * N);
    auto at = [&](int b, int token, int part, int h, int c) {
        return static_cast<double>(p.qkv[((static_cast<size_t>(b) * N + token) * 3 + part) * D + h * d + c]);
    };
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            std::fill(s.begin(), s.end(), -std::numeric_limits<double>::infinity());
            for (int i = 0; i < N; i++) {
                std::vector<int> kept;
                if (i == 0) {
                    for (int j = 0; j < N; j++) kept.push_back(j);
                } else {
                    const int32_t* row = &p.key_index[((static_cast<size_t>(b) * H + h) * (N - 1) + i - 1) * k];
                    kept.assign(row, row + k);
                }
                for (int j : kept) {
                    double dot = 0;
                    for (int c = 0; c < d; c++) dot += at(b, i, 0, h, c) * at(b, j, 1, h, c);
                    s[static_cast<size_t>(i) * N + j] = dot / std::sqrt(static_cast<double>(d));
                }
            }
            for (int i = 0; i < N; i++) {
                double* row = &s[static_cast<size_t>(i) * N];
                const double m = *std::max_element(row, row + N);
                double sum = 0;
                for (int j = 0; j < N; j++) sum += row[j] = std::exp(row[j] - m);
                for (int j = 0; j < N; j++) row[j] /= sum;
                for (int j = 0; j < N; j++) {
                    if (row[j] == 0) continue;
                    for (int c = 0; c < d; c++)
                        out[(static_cast<size_t>(b) * N + i) * D + h * d + c] += row[j] * at(b, j, 2, h, c);
                }
            }
            for (int j = 0; j < N; j++) cls_probs[(static_cast<size_t>(b) * H + h) * N + j] = s[j];
        }
}

std::vector<Isa> runnable_paths() {
    static bool told = false;
    std::vector<Isa> paths;
    for (Isa isa : {Isa::portable, Isa::avx2, Isa::avx512}) {
        if (isa_supported(isa))
            paths.push_back(isa);
        else if (!told) {
            const std::string note = std::string("skipping the ") + isa_name(isa) +
                                     " path: this CPU does not support it";
            MESSAGE(note);
        }
    }
    told = true;
    return paths;
}

double max_abs(const std::vector<double>& v) {
    double m = 0;
    for (double x : v) m = std::max(m, std::fabs(x));
    return m;
}

void check_against_reference(const Problem& p) {
    CHECK(sparse_key_index_check(p.key_index.data(), static_cast<long long>(p.B) * p.H * (p.N - 1), p.N, p.k) == "");
    std::vector<double> want, want_cls;
    reference(p, want, want_cls);
    const double scale = max_abs(want);
    for (Isa isa : runnable_paths()) {
        CAPTURE(std::string(isa_name(isa)));
        CAPTURE(p.N);
        CAPTURE(p.k);
        std::vector<float> out(want.size(), std::nanf("")), cls(want_cls.size(), std::nanf(""));
        sparse_attention_forward_isa(isa, p.qkv.data(), p.key_index.data(), out.data(), cls.data(), p.B, p.N, p.H,
                                     p.d, p.k);
        double worst = 0, worst_cls = 0;
        for (size_t i = 0; i < out.size(); i++) worst = std::max(worst, std::fabs(out[i] - want[i]));
        for (size_t i = 0; i < cls.size(); i++) worst_cls = std::max(worst_cls, std::fabs(cls[i] - want_cls[i]));
        CHECK(worst <= 1e-5 * scale);  // NaN (an unwritten output) fails this too
        CHECK(worst_cls <= 1e-6);
    }
}

}  // namespace

TEST_CASE("sparse attention equals masked dense attention, N = 197, every density") {
    for (int k : {1, 2, 20, 50, 99, 196, 197}) check_against_reference(make_problem(2, 197, 2, 64, k, 1.5f, k));
}

TEST_CASE("sparse attention equals masked dense attention, N = 577 and 1025") {
    for (int k : {1, 58, 145, 577}) check_against_reference(make_problem(2, 577, 1, 64, k, 1.5f, 100 + k));
    for (int k : {1, 103, 1025}) check_against_reference(make_problem(2, 1025, 1, 64, k, 1.5f, 200 + k));
}

TEST_CASE("sparse attention: head dims that are not a multiple of the vector width, sharp softmax") {
    for (int d : {1, 7, 20, 72}) check_against_reference(make_problem(2, 37, 3, d, 9, 1.f, d));
    // Large logits: without the max subtraction exp would overflow.
    check_against_reference(make_problem(2, 50, 2, 64, 13, 12.f, 9));
}

TEST_CASE("sparse attention with k = N is dense attention (oneDNN)") {
    Problem p = make_problem(2, 197, 3, 64, 197, 1.f, 77);
    std::vector<float> dense_out(static_cast<size_t>(2) * 197 * 192), scores(static_cast<size_t>(2) * 3 * 197 * 197);
    DenseAttention dense(3, 64);
    dense.forward_onednn(p.qkv.data(), scores.data(), dense_out.data(), 2, 197);
    std::vector<float> out(dense_out.size());
    sparse_attention_forward(p.qkv.data(), p.key_index.data(), out.data(), nullptr, 2, 197, 3, 64, 197);
    float worst = 0, scale = 0;
    for (size_t i = 0; i < out.size(); i++) {
        worst = std::max(worst, std::fabs(out[i] - dense_out[i]));
        scale = std::max(scale, std::fabs(dense_out[i]));
    }
    CHECK(worst <= 1e-5f * scale);
}

TEST_CASE("sparse attention: one pattern shared by every image and head (index_stride 0)") {
    Problem p = make_problem(2, 40, 3, 64, 6, 1.f, 3);
    // Replicate the first (b, h) block to every (b, h) for the reference.
    const size_t block = static_cast<size_t>(39) * 6;
    std::vector<int32_t> shared(p.key_index.begin(), p.key_index.begin() + block);
    for (size_t bh = 1; bh < 6; bh++) std::copy(shared.begin(), shared.end(), p.key_index.begin() + bh * block);
    std::vector<double> want, want_cls;
    reference(p, want, want_cls);
    for (Isa isa : runnable_paths()) {
        std::vector<float> out(want.size());
        sparse_attention_forward_isa(isa, p.qkv.data(), shared.data(), out.data(), nullptr, 2, 40, 3, 64, 6, 0);
        double worst = 0;
        for (size_t i = 0; i < out.size(); i++) worst = std::max(worst, std::fabs(out[i] - want[i]));
        CHECK(worst <= 1e-5 * max_abs(want));
    }
}

TEST_CASE("sparse attention rejects a bad k, and the index check names bad rows") {
    std::vector<float> qkv(3 * 5 * 8, 0.f), out(5 * 8);
    std::vector<int32_t> index(4 * 2, 0);
    CHECK_THROWS(sparse_attention_forward(qkv.data(), index.data(), out.data(), nullptr, 1, 5, 1, 8, 0));
    CHECK_THROWS(sparse_attention_forward(qkv.data(), index.data(), out.data(), nullptr, 1, 5, 1, 8, 6));
    std::vector<int32_t> good = {0, 1, 2, 4, 0, 3, 1, 2};
    CHECK(sparse_key_index_check(good.data(), 4, 5, 2) == "");
    std::vector<int32_t> out_of_range = {0, 1, 2, 5, 0, 3, 1, 2};
    CHECK(sparse_key_index_check(out_of_range.data(), 4, 5, 2).find("row 1") != std::string::npos);
    std::vector<int32_t> repeated = {0, 1, 2, 4, 3, 3, 1, 2};
    CHECK(sparse_key_index_check(repeated.data(), 4, 5, 2).find("row 2") != std::string::npos);
}

TEST_CASE("sparse attention: one head split over several work items, K and V copied per item") {
    // With two threads and a single image and head, the rows of the head are split into chunks:
    // each chunk copies K and V once when it has enough gathered reads (copy_pays), walks the keys
    // in several tiles (N > kSparseTileKeys) and ends with a partial block of rows. k = 1 keeps the
    // strided (uncopied) path, k = 700 has rows that span every tile.
    const int saved = threads_get();
    threads_set(2);
    for (int k : {1, 103, 700}) check_against_reference(make_problem(1, 1025, 1, 64, k, 1.5f, 300 + k));
    threads_set(saved);
    CHECK(sparse_attention_copy_pays(129, 103, 1025, 64));
    CHECK(!sparse_attention_copy_pays(129, 1, 1025, 64));
}
