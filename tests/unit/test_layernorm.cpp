// LayerNorm (core/kernels/layernorm.h) against a double-precision evaluation of the same formula:
// (x - mean) / sqrt(var + eps) * w + b per row, with row strides wider than D and widths that are
// and are not multiples of the eight partial sums.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/kernels/layernorm.h"

using namespace sparsifiner;

TEST_CASE("layernorm_forward matches a double-precision LayerNorm, strided rows") {
    std::mt19937 rng(11);
    std::normal_distribution<float> normal;
    for (int D : {1, 7, 8, 9, 64, 384, 385}) {
        const int rows = 3, in_stride = D + 5, out_stride = D + 3;
        std::vector<float> in(static_cast<size_t>(rows) * in_stride), weight(D), bias(D);
        for (float& v : in) v = 3.f + 2.f * normal(rng);  // an offset: the variance must not cancel
        for (float& v : weight) v = normal(rng);
        for (float& v : bias) v = normal(rng);
        std::vector<float> out(static_cast<size_t>(rows) * out_stride, -99.f);
        layernorm_forward(out.data(), in.data(), weight.data(), bias.data(), rows, D, in_stride, out_stride);
        for (int r = 0; r < rows; r++) {
            const float* x = in.data() + static_cast<size_t>(r) * in_stride;
            double mean = 0, var = 0;
            for (int j = 0; j < D; j++) mean += x[j];
            mean /= D;
            for (int j = 0; j < D; j++) var += (x[j] - mean) * (x[j] - mean);
            var /= D;
            const double rstd = 1.0 / std::sqrt(var + kLayerNormEps);
            for (int j = 0; j < D; j++) {
                const double want = (x[j] - mean) * rstd * weight[j] + bias[j];
                CAPTURE(D);
                CAPTURE(j);
                CHECK(out[static_cast<size_t>(r) * out_stride + j] == doctest::Approx(want).epsilon(1e-5).scale(1.0));
            }
            // The gap between rows is not written.
            for (int j = D; j < out_stride && r + 1 < rows; j++) CHECK(out[static_cast<size_t>(r) * out_stride + j] == -99.f);
        }
    }
}
