#pragma once
// The vector vocabulary on AVX-512 (F, BW, VL, DQ): 16 floats per register (see README.md in
// this folder). Include only inside an AVX-512 target region (simd_target_avx512.h).
#include <immintrin.h>

namespace sparsifiner {
namespace {

struct SimdAvx512 {
    using Vec = __m512;
    static constexpr int width = 16;

    static Vec zero() { return _mm512_setzero_ps(); }
    static Vec set1(float x) { return _mm512_set1_ps(x); }
    static Vec load(const float* p) { return _mm512_loadu_ps(p); }
    static void store(float* p, Vec v) { _mm512_storeu_ps(p, v); }
    static __mmask16 head_mask(int n) {
        return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1);
    }
    static Vec load_head(const float* p, int n) { return _mm512_maskz_loadu_ps(head_mask(n), p); }
    static void store_head(float* p, int n, Vec v) { _mm512_mask_storeu_ps(p, head_mask(n), v); }

    static Vec add(Vec a, Vec b) { return _mm512_add_ps(a, b); }
    static Vec sub(Vec a, Vec b) { return _mm512_sub_ps(a, b); }
    static Vec mul(Vec a, Vec b) { return _mm512_mul_ps(a, b); }
    static Vec max(Vec a, Vec b) { return _mm512_max_ps(a, b); }
    static Vec min(Vec a, Vec b) { return _mm512_min_ps(a, b); }
    static Vec div(Vec a, Vec b) { return _mm512_div_ps(a, b); }
    static Vec abs(Vec a) { return _mm512_abs_ps(a); }
    static Vec with_sign_of(Vec magnitude, Vec sign_source) {
        return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(magnitude),
                                                   _mm512_and_si512(_mm512_castps_si512(sign_source),
                                                                    _mm512_set1_epi32(static_cast<int>(0x80000000u)))));
    }
    static Vec fma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
    static Vec fnma(Vec a, Vec b, Vec c) { return _mm512_fnmadd_ps(a, b, c); }
    static Vec truncate(Vec x) { return _mm512_cvtepi32_ps(_mm512_cvttps_epi32(x)); }
    static Vec round_nearest(Vec x) { return _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
    static Vec pow2(Vec n) {
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23));
    }
    static Vec zero_below(Vec x, float bound, Vec value) {
        return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(bound), _CMP_GE_OQ), value);
    }

    static float hsum(Vec v) { return _mm512_reduce_add_ps(v); }
    static float hmax(Vec v) { return _mm512_reduce_max_ps(v); }
    // 16 lanes folded to 8, then the AVX2 tree: the same partial sums in the same order as SimdAvx2
    // would give for the folded vectors.
    static __m256 fold(Vec v) { return _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1)); }
    static __m128 hsum4(Vec a0, Vec a1, Vec a2, Vec a3) {
        const __m256 s = _mm256_hadd_ps(_mm256_hadd_ps(fold(a0), fold(a1)), _mm256_hadd_ps(fold(a2), fold(a3)));
        return _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    }
    static __m256 hsum8(const Vec* a) {
        const __m256 s0123 = _mm256_hadd_ps(_mm256_hadd_ps(fold(a[0]), fold(a[1])), _mm256_hadd_ps(fold(a[2]), fold(a[3])));
        const __m256 s4567 = _mm256_hadd_ps(_mm256_hadd_ps(fold(a[4]), fold(a[5])), _mm256_hadd_ps(fold(a[6]), fold(a[7])));
        return _mm256_add_ps(_mm256_permute2f128_ps(s0123, s4567, 0x20), _mm256_permute2f128_ps(s0123, s4567, 0x31));
    }
};

}  // namespace
}  // namespace sparsifiner
