#pragma once
// The vector GELU (exact erf form), written once over the vector vocabulary V (core/kernels/simd)
// and instantiated per ISA in gelu_avx2.cpp and gelu_avx512.cpp. Include only inside a target region.
//
// erf(z) for z >= 0 as 1 - t (a1 + t (a2 + t (a3 + t (a4 + t a5)))) exp(-z^2), t = 1 / (1 + p z)
// (Abramowitz and Stegun 7.1.26, |error| <= 1.5e-7); erf is odd, so the sign is put back after.
// exp(-z^2) for -z^2 in [-87, 0]: 2^n e^r with n = round(x / ln 2), |r| <= ln2 / 2, and a degree-6
// polynomial for e^r (simd_math.h's exp_taylor6). This split of ln 2 predates exp_nonpositive's and is
// kept so that GELU's results do not change.
#include <cmath>
#include <cstddef>

namespace sparsifiner {
namespace {

constexpr float kErfP = 0.3275911f;
constexpr float kErfA1 = 0.254829592f, kErfA2 = -0.284496736f, kErfA3 = 1.421413741f;
constexpr float kErfA4 = -1.453152027f, kErfA5 = 1.061405429f;
constexpr float kInvSqrt2 = 0.70710678118654752f;

template <class V>
void gelu_vector(float* x, size_t n) {
    using Vec = typename V::Vec;
    constexpr size_t W = V::width;
    size_t i = 0;
    for (; i + W <= n; i += W) {
        const Vec v = V::load(x + i);
        const Vec z = V::mul(v, V::set1(kInvSqrt2));
        const Vec a = V::abs(z);
        const Vec t = V::div(V::set1(1.0f), V::fma(a, V::set1(kErfP), V::set1(1.0f)));
        // exp(-a^2), clamped where it underflows anyway
        const Vec e = V::max(V::mul(V::mul(a, a), V::set1(-1.0f)), V::set1(-87.0f));
        const Vec nf = V::round_nearest(V::mul(e, V::set1(1.44269504f)));
        Vec r = V::fnma(nf, V::set1(0.693145752f), e);
        r = V::fnma(nf, V::set1(1.42860677e-6f), r);
        const Vec exp_neg = V::mul(exp_taylor6<V>(r), V::pow2(nf));
        Vec poly = V::fma(t, V::set1(kErfA5), V::set1(kErfA4));
        poly = V::fma(poly, t, V::set1(kErfA3));
        poly = V::fma(poly, t, V::set1(kErfA2));
        poly = V::fma(poly, t, V::set1(kErfA1));
        poly = V::mul(poly, t);
        const Vec erf = V::with_sign_of(V::fnma(poly, exp_neg, V::set1(1.0f)), z);
        const Vec half_v = V::mul(v, V::set1(0.5f));
        V::store(x + i, V::fma(half_v, erf, half_v));
    }
    for (; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * kInvSqrt2));
}

}  // namespace
}  // namespace sparsifiner
