// A bf16 Linear really computes in bf16: its result matches a product of bf16-rounded inputs
// (accumulated in f32) closely, the f32 product only within bf16 tolerance, and differs from
// the f32 Linear's result (a bf16 Linear that silently ran f32 fails the last check).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/kernels/bf16_convert.h"
#include "core/kernels/dtype.h"
#include "core/kernels/linear.h"

using namespace sparsifiner;

namespace {

std::vector<float> normal_values(size_t count, unsigned seed, float sigma) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.f, sigma);
    std::vector<float> values(count);
    for (float& v : values) v = normal(rng);
    return values;
}

// dst[r, o] = sum_i round?(x[r, i]) round?(w[o, i]) + b[o], in double.
std::vector<double> product(const std::vector<float>& x, const std::vector<float>& w, const std::vector<float>& b,
                            int rows, int in, int out, bool round_to_bf16) {
    auto value = [&](float v) { return round_to_bf16 ? (double)bf16_to_f32(bf16_round(v)) : (double)v; };
    std::vector<double> dst((size_t)rows * out);
    for (int r = 0; r < rows; r++)
        for (int o = 0; o < out; o++) {
            double sum = b[o];
            for (int i = 0; i < in; i++) sum += value(x[(size_t)r * in + i]) * value(w[(size_t)o * in + i]);
            dst[(size_t)r * out + o] = sum;
        }
    return dst;
}

double max_difference(const std::vector<float>& a, const std::vector<double>& b) {
    double worst = 0;
    for (size_t i = 0; i < a.size(); i++) worst = std::max(worst, std::fabs((double)a[i] - b[i]));
    return worst;
}

}  // namespace

TEST_CASE("bf16 rounding is to nearest, ties to even") {
    CHECK(bf16_round(1.0f) == 0x3f80);
    CHECK(bf16_round(1.0f + 1.0f / 256) == 0x3f80);        // halfway, even below: down
    CHECK(bf16_round(1.0f + 3.0f / 256) == 0x3f82);        // halfway, even above: up
    CHECK(bf16_round(1.0f + 1.0f / 256 + 1e-6f) == 0x3f81);  // above halfway: up
    CHECK(std::isnan(bf16_to_f32(bf16_round(std::nanf("")))));
    // The vector path rounds the same way (any length, tails included).
    const std::vector<float> values = normal_values(1000, 7, 3.f);
    std::vector<uint16_t> converted(values.size());
    bf16_from_f32(converted.data(), values.data(), values.size());
    for (size_t i = 0; i < values.size(); i++) CHECK(converted[i] == bf16_round(values[i]));
}

TEST_CASE("a bf16 Linear runs in bf16 and stays within bf16 tolerance of f32") {
    if (!dtype_unavailable(Dtype::bf16).empty()) {
        MESSAGE("skipped: " << dtype_unavailable(Dtype::bf16));
        return;
    }
    const int in = 384, out = 256, rows = 50;
    const std::vector<float> x = normal_values((size_t)rows * in, 1, 1.f), w = normal_values((size_t)out * in, 2, 0.05f),
                             b = normal_values(out, 3, 0.1f);
    for (LinearEpilogue epilogue : {LinearEpilogue::bias, LinearEpilogue::bias_residual}) {
        Linear f32(w.data(), b.data(), in, out, epilogue, rows, Dtype::f32);
        Linear bf16(w.data(), b.data(), in, out, epilogue, rows, Dtype::bf16);
        const std::string impl = bf16.implementation(rows);
        INFO("bf16 implementation: " << impl);
        CHECK_FALSE(bf16.is_reference(rows));
        CHECK(impl.find("bf16") != std::string::npos);
        // The residual epilogue adds into what dst holds: start both from the same values.
        const std::vector<float> start = normal_values((size_t)rows * out, 4, 1.f);
        std::vector<float> y32 = start, y16 = start;
        f32.forward(x.data(), y32.data(), rows);
        bf16.forward(x.data(), y16.data(), rows);
        std::vector<double> exact = product(x, w, b, rows, in, out, false), rounded = product(x, w, b, rows, in, out, true);
        if (epilogue == LinearEpilogue::bias_residual)
            for (size_t i = 0; i < exact.size(); i++) exact[i] += start[i], rounded[i] += start[i];
        // Outputs have a scale of ~1 (sqrt(384) x 1 x 0.05): bf16 inputs (8 bits of mantissa)
        // give errors of ~1e-2 at worst; f32 accumulation of the rounded inputs, ~1e-5.
        const double to_exact = max_difference(y16, exact), to_rounded = max_difference(y16, rounded);
        const double f32_to_exact = max_difference(y32, exact);
        MESSAGE("bf16 vs exact " << to_exact << ", bf16 vs bf16-rounded exact " << to_rounded << ", f32 vs exact "
                                 << f32_to_exact);
        CHECK(to_exact < 3e-2);
        CHECK(to_rounded < 1e-4);
        CHECK(f32_to_exact < 1e-4);
        // Not f32 in disguise: the bf16 result is measurably further from the exact product.
        CHECK(to_exact > 10 * f32_to_exact);
        CHECK(to_exact > 1e-3);
    }
}
