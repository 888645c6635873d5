#include "core/kernels/gelu.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "core/platform/cpu_info.h"

namespace sparsifiner {

// erf(z) for z >= 0 as 1 - t (a1 + t (a2 + t (a3 + t (a4 + t a5)))) exp(-z^2), t = 1 / (1 + p z)
// (Abramowitz and Stegun 7.1.26, |error| <= 1.5e-7); erf is odd, so the sign is put back after.
constexpr float kErfP = 0.3275911f;
constexpr float kErfA1 = 0.254829592f, kErfA2 = -0.284496736f, kErfA3 = 1.421413741f;
constexpr float kErfA4 = -1.453152027f, kErfA5 = 1.061405429f;
constexpr float kInvSqrt2 = 0.70710678118654752f;

// exp(x) for x in [-88, 0]: 2^n e^r with n = round(x / ln 2), |r| <= ln2 / 2, and a degree-6
// polynomial for e^r (relative error about 2e-7).
#define EXP_POLY(V, FMA, SET1)                                                     \
    V p = SET1(1.0f / 720);                                                        \
    p = FMA(p, r, SET1(1.0f / 120));                                               \
    p = FMA(p, r, SET1(1.0f / 24));                                                \
    p = FMA(p, r, SET1(1.0f / 6));                                                 \
    p = FMA(p, r, SET1(0.5f));                                                     \
    p = FMA(p, r, SET1(1.0f));                                                     \
    p = FMA(p, r, SET1(1.0f));

__attribute__((target("avx2,fma"))) static void gelu_avx2(float* x, size_t n) {
    const __m256 sign_mask = _mm256_set1_ps(-0.0f);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 z = _mm256_mul_ps(v, _mm256_set1_ps(kInvSqrt2));
        __m256 sign = _mm256_and_ps(z, sign_mask);
        __m256 a = _mm256_andnot_ps(sign_mask, z);                                    // |z|
        __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(a, _mm256_set1_ps(kErfP), _mm256_set1_ps(1.0f)));
        // exp(-a^2), clamped where it underflows anyway
        __m256 e = _mm256_max_ps(_mm256_mul_ps(_mm256_mul_ps(a, a), _mm256_set1_ps(-1.0f)), _mm256_set1_ps(-87.0f));
        __m256 nf = _mm256_round_ps(_mm256_mul_ps(e, _mm256_set1_ps(1.44269504f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __m256 r = _mm256_fnmadd_ps(nf, _mm256_set1_ps(0.693145752f), e);
        r = _mm256_fnmadd_ps(nf, _mm256_set1_ps(1.42860677e-6f), r);
        EXP_POLY(__m256, _mm256_fmadd_ps, _mm256_set1_ps)
        __m256i scale = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(nf), _mm256_set1_epi32(127)), 23);
        __m256 exp_neg = _mm256_mul_ps(p, _mm256_castsi256_ps(scale));
        __m256 poly = _mm256_fmadd_ps(t, _mm256_set1_ps(kErfA5), _mm256_set1_ps(kErfA4));
        poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(kErfA3));
        poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(kErfA2));
        poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(kErfA1));
        poly = _mm256_mul_ps(poly, t);
        __m256 erf_abs = _mm256_fnmadd_ps(poly, exp_neg, _mm256_set1_ps(1.0f));
        __m256 erf = _mm256_or_ps(erf_abs, sign);
        __m256 half_v = _mm256_mul_ps(v, _mm256_set1_ps(0.5f));
        _mm256_storeu_ps(x + i, _mm256_fmadd_ps(half_v, erf, half_v));
    }
    for (; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * kInvSqrt2));
}

__attribute__((target("avx512f,avx512dq,fma"))) static void gelu_avx512(float* x, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        __m512 z = _mm512_mul_ps(v, _mm512_set1_ps(kInvSqrt2));
        __m512 a = _mm512_abs_ps(z);
        __m512 t = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_fmadd_ps(a, _mm512_set1_ps(kErfP), _mm512_set1_ps(1.0f)));
        __m512 e = _mm512_max_ps(_mm512_mul_ps(_mm512_mul_ps(a, a), _mm512_set1_ps(-1.0f)), _mm512_set1_ps(-87.0f));
        __m512 nf = _mm512_roundscale_ps(_mm512_mul_ps(e, _mm512_set1_ps(1.44269504f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __m512 r = _mm512_fnmadd_ps(nf, _mm512_set1_ps(0.693145752f), e);
        r = _mm512_fnmadd_ps(nf, _mm512_set1_ps(1.42860677e-6f), r);
        EXP_POLY(__m512, _mm512_fmadd_ps, _mm512_set1_ps)
        __m512i scale = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(nf), _mm512_set1_epi32(127)), 23);
        __m512 exp_neg = _mm512_mul_ps(p, _mm512_castsi512_ps(scale));
        __m512 poly = _mm512_fmadd_ps(t, _mm512_set1_ps(kErfA5), _mm512_set1_ps(kErfA4));
        poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(kErfA3));
        poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(kErfA2));
        poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(kErfA1));
        poly = _mm512_mul_ps(poly, t);
        __m512 erf_abs = _mm512_fnmadd_ps(poly, exp_neg, _mm512_set1_ps(1.0f));
        // Put the sign of z back: erf is odd.
        __m512 erf = _mm512_castsi512_ps(_mm512_or_si512(
            _mm512_castps_si512(erf_abs), _mm512_and_si512(_mm512_castps_si512(z), _mm512_set1_epi32((int)0x80000000u))));
        __m512 half_v = _mm512_mul_ps(v, _mm512_set1_ps(0.5f));
        _mm512_storeu_ps(x + i, _mm512_fmadd_ps(half_v, erf, half_v));
    }
    for (; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * kInvSqrt2));
}

static void gelu_portable(float* x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * kInvSqrt2));
}

static void gelu_run(Isa isa, float* x, size_t n) {
    switch (isa) {
        case Isa::avx512: gelu_avx512(x, n); return;
        case Isa::avx2: gelu_avx2(x, n); return;
        case Isa::portable: gelu_portable(x, n); return;
    }
}

void gelu_inplace_isa(Isa isa, float* x, size_t n) {
    if (!isa_supported(isa)) throw std::invalid_argument("gelu: this CPU cannot run the requested path");
    gelu_run(isa, x, n);
}

void gelu_inplace(float* x, size_t n) {
    const Isa best = isa_best();
    // Chunks of 4096 floats keep the work of each thread contiguous and cache sized.
    const long chunks = (long)((n + 4095) / 4096);
#pragma omp parallel for schedule(static)
    for (long c = 0; c < chunks; c++) {
        size_t begin = (size_t)c * 4096, len = std::min<size_t>(4096, n - begin);
        gelu_run(best, x + begin, len);
    }
}

}  // namespace sparsifiner
