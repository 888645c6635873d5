#pragma once
// An 8 x 8 float transpose in AVX registers, shared by the predictor's kc -> kc^T
// (core/kernels/transpose.cpp) and the AVX2 coefficient selection (core/masks/coef_select_avx2.cpp):
// pairs of rows interleaved, then pairs of pairs, then the 128-bit halves regrouped. In an
// anonymous namespace like the rest of this folder (see README.md); marked for AVX2 so that it
// inlines into callers built with at least that.
#include <immintrin.h>

namespace sparsifiner {
namespace {

// r[i]: row i of the block on entry, column i on return.
__attribute__((target("avx2"), always_inline)) inline void transpose8x8(__m256* r) {
    __m256 t[8], u[8];
    for (int p = 0; p < 4; p++) {
        t[2 * p] = _mm256_unpacklo_ps(r[2 * p], r[2 * p + 1]);
        t[2 * p + 1] = _mm256_unpackhi_ps(r[2 * p], r[2 * p + 1]);
    }
    // u[4 q + m]'s 128-bit half L holds column 4 L + m of rows 4 q .. 4 q + 3.
    for (int q = 0; q < 2; q++) {
        const __m256d lo0 = _mm256_castps_pd(t[4 * q]), hi0 = _mm256_castps_pd(t[4 * q + 1]);
        const __m256d lo1 = _mm256_castps_pd(t[4 * q + 2]), hi1 = _mm256_castps_pd(t[4 * q + 3]);
        u[4 * q] = _mm256_castpd_ps(_mm256_unpacklo_pd(lo0, lo1));
        u[4 * q + 1] = _mm256_castpd_ps(_mm256_unpackhi_pd(lo0, lo1));
        u[4 * q + 2] = _mm256_castpd_ps(_mm256_unpacklo_pd(hi0, hi1));
        u[4 * q + 3] = _mm256_castpd_ps(_mm256_unpackhi_pd(hi0, hi1));
    }
    for (int m = 0; m < 4; m++) {
        r[m] = _mm256_permute2f128_ps(u[m], u[4 + m], 0x20);
        r[4 + m] = _mm256_permute2f128_ps(u[m], u[4 + m], 0x31);
    }
}

}  // namespace
}  // namespace sparsifiner
