// The predictor's small products (core/kernels/predictor_gemm.h): every path the CPU has gives
// the portable path's bits (one fused multiply-add per term, in order), and the portable path
// is x W + b to float accuracy.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/kernels/predictor_gemm.h"

using namespace sparsifiner;

namespace {

struct Problem {
    int rows, inner, ld;
    long long x_stride;
    std::vector<float> x, w, bias;
};

Problem make_problem(int rows, int inner, int ld, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.f, 1.f);
    Problem p{rows, inner, ld, inner + 3, {}, {}, {}};
    p.x.resize(static_cast<size_t>(rows) * p.x_stride);
    p.w.resize(static_cast<size_t>(inner) * ld);
    p.bias.resize(ld);
    for (auto& v : p.x) v = normal(rng);
    for (auto& v : p.w) v = normal(rng);
    for (auto& v : p.bias) v = normal(rng);
    return p;
}

std::vector<float> run(Isa isa, const Problem& p, bool with_bias) {
    // One guard row past the end: rows past `rows` must not be touched.
    std::vector<float> out(static_cast<size_t>(p.rows + 1) * p.ld, 7.f);
    predictor_gemm(isa, p.x.data(), p.x_stride, p.rows, p.inner, p.w.data(), p.ld, with_bias ? p.bias.data() : nullptr,
                   out.data());
    for (int m = 0; m < p.ld; m++) REQUIRE(out[static_cast<size_t>(p.rows) * p.ld + m] == 7.f);
    out.resize(static_cast<size_t>(p.rows) * p.ld);
    return out;
}

}  // namespace

TEST_CASE("predictor_gemm: every ISA path gives the portable bits, and the portable path is x W + b") {
    int checked_paths = 0;
    for (int rows : {1, 3, 4, 5, 8, 13, 16, 28})
        for (int inner : {1, 7, 32})
            for (int ld : {16, 32, 48, 80})
                for (bool with_bias : {false, true}) {
                    const Problem p = make_problem(rows, inner, ld, rows * 1000 + inner * 10 + ld);
                    const std::vector<float> portable = run(Isa::portable, p, with_bias);
                    for (int i = 0; i < rows; i++)
                        for (int m = 0; m < ld; m++) {
                            double expect = with_bias ? p.bias[m] : 0.0;
                            for (int t = 0; t < inner; t++)
                                expect += static_cast<double>(p.x[i * p.x_stride + t]) * p.w[static_cast<size_t>(t) * ld + m];
                            REQUIRE(std::fabs(portable[static_cast<size_t>(i) * ld + m] - expect) <=
                                    1e-5 * (1.0 + std::fabs(expect)) * inner);
                        }
                    for (Isa isa : {Isa::avx2, Isa::avx512}) {
                        if (!isa_supported(isa)) continue;
                        const std::vector<float> vec = run(isa, p, with_bias);
                        CAPTURE(std::string(isa_name(isa)));
                        CAPTURE(rows);
                        CAPTURE(inner);
                        CAPTURE(ld);
                        REQUIRE(std::memcmp(vec.data(), portable.data(), vec.size() * sizeof(float)) == 0);
                        checked_paths++;
                    }
                }
    MESSAGE("vector paths compared bit for bit: " << checked_paths);
}

// Large w (more than kPackPanelsAbove floats) has its column panels copied out before the row
// blocks read them: the same bits as in place. Row counts that leave every kind of remainder
// (a block of eight, blocks of four, the portable tail), an ld with an odd vector count.
TEST_CASE("predictor_gemm: packed panels of a large w give the portable bits") {
    int checked_paths = 0;
    for (int rows : {5, 8, 20, 23})
        for (int ld : {208, 240})
            for (bool with_bias : {false, true}) {
                const int inner = 400;  // inner x ld = 83200 / 96000 floats: packed
                const Problem p = make_problem(rows, inner, ld, 7000 + rows * 10 + ld);
                const std::vector<float> portable = run(Isa::portable, p, with_bias);
                for (Isa isa : {Isa::avx2, Isa::avx512}) {
                    if (!isa_supported(isa)) continue;
                    const std::vector<float> vec = run(isa, p, with_bias);
                    CAPTURE(std::string(isa_name(isa)));
                    CAPTURE(rows);
                    CAPTURE(ld);
                    REQUIRE(std::memcmp(vec.data(), portable.data(), vec.size() * sizeof(float)) == 0);
                    checked_paths++;
                }
            }
    MESSAGE("vector paths compared bit for bit: " << checked_paths);
}
