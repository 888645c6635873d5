// predictor_gemm_rows4_avx512 (core/predictor_gemm.h) against a scalar loop of the same fused
// multiply-adds in the same order: the values must be identical, bit for bit (the predictor's
// masks then do not depend on whether the CPU has AVX-512 or AVX2).
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/platform/cpu_info.h"
#include "core/kernels/predictor_gemm.h"

using namespace sparsifiner;

TEST_CASE("predictor_gemm_rows4_avx512 equals ordered scalar FMAs, with and without bias") {
    if (!cpu_has_avx512()) return;  // nothing to run on this CPU
    std::mt19937 rng(7);
    std::normal_distribution<float> normal;
    for (int ld : {16, 32, 48, 96}) {
        for (int inner : {1, 7, 64}) {
            const int rows = 12;
            const long long x_stride = inner + 3;  // strided rows, as qkv is read in place
            std::vector<float> x(rows * x_stride), w(static_cast<size_t>(inner) * ld), bias(ld);
            for (auto& v : x) v = normal(rng);
            for (auto& v : w) v = normal(rng);
            for (auto& v : bias) v = normal(rng);
            for (bool with_bias : {false, true}) {
                std::vector<float> out(static_cast<size_t>(rows) * ld, -1.f);
                predictor_gemm_rows4_avx512(x.data(), x_stride, rows, inner, w.data(), ld,
                                            with_bias ? bias.data() : nullptr, out.data());
                int mismatches = 0;
                for (int i = 0; i < rows; i++)
                    for (int m = 0; m < ld; m++) {
                        float sum = with_bias ? bias[m] : 0.f;
                        for (int t = 0; t < inner; t++) sum = std::fma(x[i * x_stride + t], w[static_cast<size_t>(t) * ld + m], sum);
                        mismatches += out[static_cast<size_t>(i) * ld + m] != sum;
                    }
                CAPTURE(ld);
                CAPTURE(inner);
                CHECK(mismatches == 0);
            }
        }
    }
}
