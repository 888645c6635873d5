// Fused dense attention (core/kernels/fused_attention*.cpp), every ISA path this CPU runs, against dense
// attention written plainly here in double precision (the N x N scores, a softmax per row, a
// product with V), and against the oneDNN path (core/attention_dense.h).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/kernels/attention_dense.h"
#include "core/kernels/fused_attention.h"
#include "core/platform/threading.h"

using namespace sparsifiner;

namespace {

struct Problem {
    int B, N, H, d;
    std::vector<float> qkv;  // [B, N, 3, H, d]
};

Problem make_problem(int B, int N, int H, int d, float spread, unsigned seed) {
    Problem p{B, N, H, d, {}};
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.f, spread);
    p.qkv.resize(static_cast<size_t>(B) * N * 3 * H * d);
    for (auto& v : p.qkv) v = normal(rng);
    return p;
}

// out [B, N, D] and cls_probs [B, H, N] by the definition (SPEC 1).
void reference(const Problem& p, std::vector<double>& out, std::vector<double>& cls_probs) {
    const int B = p.B, N = p.N, H = p.H, d = p.d, D = H * d;
    out.assign(static_cast<size_t>(B) * N * D, 0.0);
    cls_probs.assign(static_cast<size_t>(B) * H * N, 0.0);
    std::vector<double> s(N);
    auto at = [&](int b, int token, int part, int h, int c) {
        return static_cast<double>(p.qkv[((static_cast<size_t>(b) * N + token) * 3 + part) * D + h * d + c]);
    };
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < N; i++) {
                for (int j = 0; j < N; j++) {
                    double dot = 0;
                    for (int c = 0; c < d; c++) dot += at(b, i, 0, h, c) * at(b, j, 1, h, c);
                    s[j] = dot / std::sqrt(static_cast<double>(d));
                }
                const double m = *std::max_element(s.begin(), s.end());
                double sum = 0;
                for (int j = 0; j < N; j++) sum += s[j] = std::exp(s[j] - m);
                for (int j = 0; j < N; j++) s[j] /= sum;
                if (i == 0)
                    for (int j = 0; j < N; j++) cls_probs[(static_cast<size_t>(b) * H + h) * N + j] = s[j];
                double* o = &out[(static_cast<size_t>(b) * N + i) * D + h * d];
                for (int j = 0; j < N; j++)
                    for (int c = 0; c < d; c++) o[c] += s[j] * at(b, j, 2, h, c);
            }
}

template <typename T>
double max_abs(const std::vector<T>& v) {
    double m = 0;
    for (T x : v) m = std::max(m, std::fabs(static_cast<double>(x)));
    return m;
}

// Every kernel this CPU runs with a kernel for head dimension d.
std::vector<Isa> runnable_paths(int d) {
    std::vector<Isa> paths;
    for (Isa isa : {Isa::portable, Isa::avx2, Isa::avx512})
        if (isa_supported(isa) && fused_attention_isa_fits(isa, d)) paths.push_back(isa);
    return paths;
}

void check_against_reference(const Problem& p) {
    std::vector<double> want, want_cls;
    reference(p, want, want_cls);
    for (Isa isa : runnable_paths(p.d)) {
        CAPTURE(std::string(isa_name(isa)));
        CAPTURE(p.N);
        CAPTURE(p.d);
        std::vector<float> out(want.size(), NAN), cls(want_cls.size(), NAN);
        fused_attention_forward_isa(isa, p.qkv.data(), out.data(), cls.data(), p.B, p.N, p.H, p.d);
        double worst = 0, worst_cls = 0;
        for (size_t i = 0; i < out.size(); i++) worst = std::max(worst, std::fabs(out[i] - want[i]));
        for (size_t i = 0; i < cls.size(); i++) worst_cls = std::max(worst_cls, std::fabs(cls[i] - want_cls[i]));
        CHECK(worst <= 1e-5 * max_abs(want));  // also false for NaN (a row left unwritten)
        CHECK(worst_cls <= 1e-5 * max_abs(want_cls));
    }
}

}  // namespace

TEST_CASE("fused attention: the machine has the kernels the dispatcher picks") {
    // Not a tautology on the CI machine (Zen 4): AVX-512 must be picked for d = 64 there; on a
    // machine without it (or under SPARSIFINER_ISA=avx2) the best path the cap allows.
    const Isa best = fused_attention_isa_best(64);
    CHECK(isa_supported(best));
    CHECK(best == isa_best());
    CHECK(fused_attention_isa_best(20) == Isa::portable);
}

TEST_CASE("fused attention: sequence lengths around the tiles, N = 1 and N = 2") {
    // Query tiles and key tiles of 64: one short tile, exact tiles, one over, and DeiT's 197.
    for (int N : {1, 2, 5, 17, 63, 64, 65, 128, 197})
        check_against_reference(make_problem(2, N, 2, 64, 1.f, 100 + N));
}

TEST_CASE("fused attention: long sequences (many key tiles, the running maximum moves)") {
    check_against_reference(make_problem(1, 1025, 2, 64, 1.5f, 7));
    check_against_reference(make_problem(1, 4097, 1, 64, 1.f, 8));
}

TEST_CASE("fused attention: head dimensions, including ones no vector kernel takes") {
    for (int d : {8, 16, 20, 32, 48, 80, 128}) check_against_reference(make_problem(1, 70, 3, d, 1.f, d));
}

TEST_CASE("fused attention: sharp softmax (large logits) across key tiles") {
    // Logits in the hundreds: without the max subtraction e^s overflows; the maximum of later key
    // tiles exceeds earlier ones, so the rescaling of the running sums is exercised.
    check_against_reference(make_problem(2, 300, 2, 64, 4.f, 9));
}

TEST_CASE("fused attention: two threads over one head's query tiles") {
    const int saved = threads_get();
    threads_set(2);
    check_against_reference(make_problem(1, 577, 1, 64, 1.f, 11));
    threads_set(saved);
}

TEST_CASE("fused attention equals the oneDNN dense path") {
    Problem p = make_problem(2, 197, 6, 64, 1.f, 77);
    const size_t n = static_cast<size_t>(2) * 197 * 384;
    std::vector<float> dense_out(n), scores(static_cast<size_t>(2) * 6 * 197 * 197), out(n);
    DenseAttention dense(6, 64);
    dense.forward_onednn(p.qkv.data(), scores.data(), dense_out.data(), 2, 197);
    fused_attention_forward(p.qkv.data(), out.data(), nullptr, 2, 197, 6, 64);
    double worst = 0;
    for (size_t i = 0; i < n; i++) worst = std::max(worst, static_cast<double>(std::fabs(out[i] - dense_out[i])));
    CHECK(worst <= 1e-5 * max_abs(dense_out));
}

TEST_CASE("dense attention: a oneDNN plan made at one thread count is not reused at another") {
    // oneDNN fixes a primitive's thread split at creation; reusing a one-thread plan at two
    // threads ran the products on one (bench --threads 1,2).
    const int saved = threads_get();
    Problem p = make_problem(1, 65, 2, 64, 1.f, 9);
    const size_t n = static_cast<size_t>(65) * 128;
    std::vector<float> scores(static_cast<size_t>(2) * 65 * 65), one(n), two(n);
    DenseAttention dense(2, 64);
    threads_set(1);
    dense.forward_onednn(p.qkv.data(), scores.data(), one.data(), 1, 65);
    CHECK(dense.plan_count() == 1);
    threads_set(2);
    dense.forward_onednn(p.qkv.data(), scores.data(), two.data(), 1, 65);
    CHECK(dense.plan_count() == 2);
    threads_set(1);
    dense.forward_onednn(p.qkv.data(), scores.data(), one.data(), 1, 65);
    CHECK(dense.plan_count() == 2);  // the one-thread plan is reused
    threads_set(saved);
    double worst = 0;
    for (size_t i = 0; i < n; i++) worst = std::max(worst, static_cast<double>(std::fabs(one[i] - two[i])));
    CHECK(worst <= 1e-5 * max_abs(one));
}

TEST_CASE("fused attention refuses a kernel for a head dimension it cannot take") {
    Problem p = make_problem(1, 4, 1, 20, 1.f, 1);
    std::vector<float> out(4 * 20);
    for (Isa isa : {Isa::avx2, Isa::avx512})
        CHECK_THROWS_AS(fused_attention_forward_isa(isa, p.qkv.data(), out.data(), nullptr, 1, 4, 1, 20),
                        std::invalid_argument);
}

TEST_CASE("dense attention: both cores give the same output and cls row, and the choice can be forced") {
    // The model's entry point: forward() on each forced core, cls_probs included (token pruning
    // reads them); the fused core must not touch the score buffer (it may be absent).
    Problem p = make_problem(2, 101, 3, 64, 1.5f, 5);
    const size_t n = static_cast<size_t>(2) * 101 * 192, cls_n = static_cast<size_t>(2) * 3 * 101;
    std::vector<float> scores(static_cast<size_t>(2) * 3 * 101 * 101);
    std::vector<float> out_onednn(n), out_fused(n), cls_onednn(cls_n), cls_fused(cls_n);
    DenseAttention dense(3, 64);
    dense_core_force(DenseCoreChoice::onednn);
    CHECK(dense_core_for(101, 64) == DenseCore::onednn);
    CHECK(dense.forward(p.qkv.data(), scores.data(), out_onednn.data(), cls_onednn.data(), 2, 101) ==
          DenseCore::onednn);
    dense_core_force(DenseCoreChoice::fused);
    CHECK(dense.forward(p.qkv.data(), nullptr, out_fused.data(), cls_fused.data(), 2, 101) == DenseCore::fused);
    dense_core_force(DenseCoreChoice::automatic);
    CHECK(dense_core_for(101, 64) ==
          (fused_attention_isa_best(64) == Isa::avx512 ? DenseCore::fused : DenseCore::onednn));
    double worst = 0, worst_cls = 0;
    for (size_t i = 0; i < n; i++) worst = std::max(worst, static_cast<double>(std::fabs(out_fused[i] - out_onednn[i])));
    for (size_t i = 0; i < cls_n; i++)
        worst_cls = std::max(worst_cls, static_cast<double>(std::fabs(cls_fused[i] - cls_onednn[i])));
    CHECK(worst <= 1e-5 * max_abs(out_onednn));
    CHECK(worst_cls <= 1e-5 * max_abs(cls_onednn));
}
