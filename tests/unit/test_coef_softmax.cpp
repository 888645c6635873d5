// The predictor's coefficient softmax and its exponential (core/masks/coef_softmax.cpp): accuracy
// against libm in ulps, and the portable and AVX2 builds giving the same bits.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/masks/coef_softmax.h"
#include "core/masks/mask_predictor.h"

using namespace sparsifiner;

namespace {

float float_from_bits(uint32_t bits) {
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

// |got - want| in units of the last place of the float nearest to want.
double ulps(float got, double want) {
    int exponent;
    std::frexp(static_cast<float>(want), &exponent);
    return std::fabs(static_cast<double>(got) - want) / std::ldexp(1.0, exponent - 24);
}

}  // namespace

TEST_CASE("coef softmax: exp within one ulp of libm over [-87, 0]") {
    // Every 101st float from -2^-10 down to -87 (1.4 million values; closer to 0, e^x rounds to
    // 1 or just below it and says little): the degree-6 Taylor polynomial used before reached
    // 2.97 ulp here and flipped near-tie mask rows; this one stays below 1.
    double worst = 0, sum = 0;
    float worst_x = 0;
    long count = 0, not_nearest = 0;
    for (uint32_t bits = 0xBA800000u;; bits += 101) {  // -2^-10
        const float x = float_from_bits(bits);
        if (!(x >= -87.0f)) break;
        const double want = std::exp(static_cast<double>(x));
        const float got = exp_nonpositive(x);
        const double error = ulps(got, want);
        if (error > worst) worst = error, worst_x = x;
        sum += error;
        not_nearest += got != static_cast<float>(want);
        count++;
    }
    INFO("max " << worst << " ulp at x = " << worst_x << ", mean " << sum / count << " ulp, " << not_nearest
                << " of " << count << " not the nearest float");
    // Measured: max 0.96, mean 0.26, 6.9% not the nearest float (libm: 0.50, 0.25, 0.07%); the
    // Taylor polynomial: max 2.94, mean 0.32, 13%.
    CHECK(worst <= 1.0);
    CHECK(sum / count < 0.29);
    CHECK(not_nearest < count / 10);
    // Exact points and the ends of the range.
    CHECK(exp_nonpositive(0.0f) == 1.0f);
    CHECK(exp_nonpositive(-0.0f) == 1.0f);
    CHECK(exp_nonpositive(-100.0f) == 0.0f);
    CHECK(exp_nonpositive(-INFINITY) == 0.0f);
    CHECK(ulps(exp_nonpositive(-87.0f), std::exp(-87.0)) <= 1.0);
}

TEST_CASE("coef softmax: within a few ulps of a double softmax, the same bits in every build") {
    // Rows like the predictor's: K = 32 (and 6, 20: not whole vectors) logits of spread 2-10,
    // scaled by H^-0.5 for H = 3 and 6.
    std::mt19937 rng(17);
    std::normal_distribution<float> normal;
    INFO("vector paths compared: " << std::string(isa_supported(Isa::avx512) ? "AVX2, AVX-512" : isa_supported(Isa::avx2) ? "AVX2" : "none (portable only)"));
    double worst = 0;
    for (int K : {6, 20, 32})
        for (int H : {3, 6})
            for (float spread : {2.f, 10.f})
                for (int trial = 0; trial < 200; trial++) {
                    std::vector<float> logits(K);
                    for (float& v : logits) v = normal(rng) * spread;
                    const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(H)));
                    std::vector<float> portable = logits, fast = logits;
                    coef_softmax(portable.data(), K, scale, Isa::portable);
                    for (Isa isa : {Isa::avx2, Isa::avx512}) {
                        if (!isa_supported(isa)) continue;
                        fast = logits;
                        coef_softmax(fast.data(), K, scale, isa);
                        CAPTURE(std::string(isa_name(isa)));
                        CHECK(std::memcmp(portable.data(), fast.data(), K * sizeof(float)) == 0);
                    }
                    // The double softmax of the same scaled float logits.
                    std::vector<double> want(K);
                    double top = -INFINITY, sum = 0;
                    for (int m = 0; m < K; m++) top = std::max(top, want[m] = static_cast<double>(logits[m] * scale));
                    for (double& v : want) sum += v = std::exp(v - top);
                    // The entries that can matter (at least 1e-3 of the largest: the kept
                    // coefficients). Smaller ones carry the rounding of x - max as a relative
                    // error that grows with |x - max|, in any float softmax.
                    for (int m = 0; m < K; m++) want[m] /= sum;
                    const double largest = *std::max_element(want.begin(), want.end());
                    for (int m = 0; m < K; m++)
                        if (want[m] >= 1e-3 * largest) worst = std::max(worst, ulps(portable[m], want[m]));
                }
    INFO("max error " << worst << " ulp");
    // exp (1 ulp), the sum over K (a few), 1 / sum and the product (1 each): well under 8.
    CHECK(worst < 8.0);
}

TEST_CASE("coef softmax: every vector path gives the portable bits at the predictor's K") {
    // K = N / 6 for N = 577, 1025 and 4097 (and odd sizes around a vector), logits of spread 2-10,
    // a few of them far below the maximum (exp underflows to 0) and repeated maxima.
    std::mt19937 rng(29);
    std::normal_distribution<float> normal;
    int compared = 0;
    for (int K : {7, 15, 17, 96, 171, 683})
        for (float spread : {2.f, 10.f, 60.f})
            for (int trial = 0; trial < 40; trial++) {
                std::vector<float> logits(K);
                for (float& v : logits) v = normal(rng) * spread;
                logits[trial % K] = logits[(trial * 7) % K];  // a tie, sometimes at the top
                std::vector<float> portable = logits;
                coef_softmax(portable.data(), K, 0.40824829f, Isa::portable);
                for (Isa isa : {Isa::avx2, Isa::avx512}) {
                    if (!isa_supported(isa)) continue;
                    std::vector<float> fast = logits;
                    coef_softmax(fast.data(), K, 0.40824829f, isa);
                    CAPTURE(std::string(isa_name(isa)));
                    CAPTURE(K);
                    CHECK(std::memcmp(portable.data(), fast.data(), K * sizeof(float)) == 0);
                    compared++;
                }
            }
    MESSAGE("rows compared bit for bit: " << compared);
}
