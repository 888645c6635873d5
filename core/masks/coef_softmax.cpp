#include "core/masks/coef_softmax.h"

#include <cmath>
#include <cstdint>
#include <cstring>

// Built with -ffp-contract=off (CMakeLists.txt): see the header.

namespace sparsifiner {

namespace {

// x = n ln2 + r with |r| <= ln2 / 2 (ln2 split in two so that r is exact to float rounding), e^r =
// 1 + r + r^2 P(r) with P the degree-5 minimax fit of Cephes' expf, 2^n built in the exponent bits.
// Max error 0.98 ulp against libm's double exp over [-87, 0] (measured on every 7th float;
// the Taylor polynomial of degree 6 it replaces reached 2.97 ulp and flipped near-tie mask rows).
// Written with integer selects instead of float comparisons so that the loops calling it vectorise
// (float comparisons may trap; the callers run with no-trapping-math).
__attribute__((optimize("no-trapping-math"))) inline float exp_nonpositive_inline(float x) {
    // "Below -87.3" (or -inf, or a negative NaN) is "greater than the bits of -87.3" as unsigned.
    constexpr uint32_t kLimitBits = 0xC2AE999Au;  // -87.3f
    uint32_t x_bits;
    std::memcpy(&x_bits, &x, sizeof x_bits);
    const uint32_t keep = x_bits > kLimitBits ? 0u : 0xFFFFFFFFu;
    x_bits = x_bits > kLimitBits ? kLimitBits : x_bits;
    std::memcpy(&x, &x_bits, sizeof x);
    // Round to nearest of a value <= 0 as a truncation (one vector conversion, no call to floor).
    const int32_t ni = static_cast<int32_t>(x * 1.44269504088896341f - 0.5f);
    const float n = static_cast<float>(ni);
    float r = x - n * 0.693359375f;  // exact: the high part of ln2 has 9 significant bits
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r;
    p = p + 1.0f;
    // Unsigned: a NaN input (which finite weights never produce) must not shift a negative value.
    const uint32_t bits = static_cast<uint32_t>(ni + 127) << 23;
    float two_n;
    std::memcpy(&two_n, &bits, sizeof two_n);
    const float e = p * two_n;
    uint32_t e_bits;
    std::memcpy(&e_bits, &e, sizeof e_bits);
    e_bits &= keep;
    float result;
    std::memcpy(&result, &e_bits, sizeof result);
    return result;
}

// The exponentials are one flat loop, vectorised once the compiler may assume that float
// operations do not trap (nothing here reads the floating point exception flags); the max and the
// sum are reductions it may not reorder, so they run as eight explicit partial results, which is
// also what keeps the two builds identical. Inlined into both builds below.
__attribute__((always_inline, optimize("no-trapping-math"))) inline void softmax_body(float* row, int K,
                                                                                      float scale) {
    for (int m = 0; m < K; m++) row[m] *= scale;
    float lane[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    for (int m = 0; m < K; m++) lane[m & 7] = row[m] > lane[m & 7] ? row[m] : lane[m & 7];
    float max_value = lane[0];
    for (int l = 1; l < 8; l++) max_value = lane[l] > max_value ? lane[l] : max_value;
    for (int m = 0; m < K; m++) row[m] = exp_nonpositive_inline(row[m] - max_value);
    for (int l = 0; l < 8; l++) lane[l] = 0.f;
    for (int m = 0; m < K; m++) lane[m & 7] += row[m];
    const float sum = ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
    const float inv_sum = 1.0f / sum;
    for (int m = 0; m < K; m++) row[m] *= inv_sum;
}

__attribute__((optimize("no-trapping-math"))) void softmax_portable(float* row, int K, float scale) {
    softmax_body(row, K, scale);
}

}  // namespace

float exp_nonpositive(float x) { return exp_nonpositive_inline(x); }

void coef_softmax(float* row, int K, float scale, Isa isa) {
    switch (isa) {
        case Isa::avx512: coef_softmax_avx512(row, K, scale); return;
        case Isa::avx2: coef_softmax_avx2(row, K, scale); return;
        default: softmax_portable(row, K, scale);
    }
}

}  // namespace sparsifiner
