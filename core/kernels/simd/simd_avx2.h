#pragma once
// The vector vocabulary on AVX2 + FMA: 8 floats per register (see README.md in this folder).
// Include only inside an AVX2 target region (simd_target_avx2.h).
#include <immintrin.h>

namespace sparsifiner {
namespace {

struct SimdAvx2 {
    using Vec = __m256;
    static constexpr int width = 8;

    static Vec zero() { return _mm256_setzero_ps(); }
    static Vec set1(float x) { return _mm256_set1_ps(x); }
    static Vec load(const float* p) { return _mm256_loadu_ps(p); }
    static void store(float* p, Vec v) { _mm256_storeu_ps(p, v); }
    // Lanes [0, n) of p (n in [0, width]); the others read as 0 / are left alone.
    static __m256i head_mask(int n) {
        return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    }
    static Vec load_head(const float* p, int n) { return _mm256_maskload_ps(p, head_mask(n)); }
    static void store_head(float* p, int n, Vec v) { _mm256_maskstore_ps(p, head_mask(n), v); }

    static Vec add(Vec a, Vec b) { return _mm256_add_ps(a, b); }
    static Vec sub(Vec a, Vec b) { return _mm256_sub_ps(a, b); }
    static Vec mul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
    static Vec max(Vec a, Vec b) { return _mm256_max_ps(a, b); }
    static Vec min(Vec a, Vec b) { return _mm256_min_ps(a, b); }
    static Vec div(Vec a, Vec b) { return _mm256_div_ps(a, b); }
    static Vec abs(Vec a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
    // |magnitude| with the sign bit of sign_source (magnitude's own sign bit must be clear).
    static Vec with_sign_of(Vec magnitude, Vec sign_source) {
        return _mm256_or_ps(magnitude, _mm256_and_ps(sign_source, _mm256_set1_ps(-0.0f)));
    }
    static Vec fma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }    // a b + c
    static Vec fnma(Vec a, Vec b, Vec c) { return _mm256_fnmadd_ps(a, b, c); }  // c - a b
    static Vec truncate(Vec x) { return _mm256_cvtepi32_ps(_mm256_cvttps_epi32(x)); }  // toward 0, as (float)(int)x
    static Vec round_nearest(Vec x) { return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
    // 2^n for lanes holding integral values in [-126, 127]: the exponent field built directly.
    static Vec pow2(Vec n) {
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23));
    }
    // value where x >= bound (ordered), else 0.
    static Vec zero_below(Vec x, float bound, Vec value) {
        return _mm256_and_ps(value, _mm256_cmp_ps(x, _mm256_set1_ps(bound), _CMP_GE_OQ));
    }

    static float hsum(Vec v) {
        __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        s = _mm_add_ss(s, _mm_movehdup_ps(s));
        return _mm_cvtss_f32(s);
    }
    static float hmax(Vec v) {
        __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        s = _mm_max_ps(s, _mm_movehl_ps(s, s));
        s = _mm_max_ss(s, _mm_movehdup_ps(s));
        return _mm_cvtss_f32(s);
    }
    // [sum a0, sum a1, sum a2, sum a3] by a tree of horizontal adds.
    static __m128 hsum4(Vec a0, Vec a1, Vec a2, Vec a3) {
        const __m256 s = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
        return _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    }
    // [sum a[0], ..., sum a[7]]: a transpose-reduce (three rounds of hadd and one lane swap).
    static __m256 hsum8(const Vec* a) {
        const __m256 s0123 = _mm256_hadd_ps(_mm256_hadd_ps(a[0], a[1]), _mm256_hadd_ps(a[2], a[3]));
        const __m256 s4567 = _mm256_hadd_ps(_mm256_hadd_ps(a[4], a[5]), _mm256_hadd_ps(a[6], a[7]));
        // s0123 = [a0..a3 over lanes 0-3 | a0..a3 over lanes 4-7], likewise s4567.
        return _mm256_add_ps(_mm256_permute2f128_ps(s0123, s4567, 0x20), _mm256_permute2f128_ps(s0123, s4567, 0x31));
    }
};

}  // namespace
}  // namespace sparsifiner
