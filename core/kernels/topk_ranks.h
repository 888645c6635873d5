#pragma once
// topk_float_rank (topk_kernels.h) on a vector of float bits: 8 lanes with AVX2, 16 with AVX-512.
// Shared by the top-k's vector passes (topk_kernels_avx2.cpp, _avx512.cpp) and the predictor's
// coefficient selection (core/masks/coef_select_*.cpp), which must rank exactly as topk_select
// does. Each function carries its instruction set, so it inlines into callers built with at
// least that; in an anonymous namespace like the vector kernels (see simd/README.md).
#include <immintrin.h>

#include <cstdint>

namespace sparsifiner {
namespace {

// NaN ranks as -inf, -0.0 as +0.0; a larger float gives a larger integer.
__attribute__((target("avx2"), always_inline)) inline __m256i ranks8(__m256i bits) {
    const __m256i abs_mask = _mm256_set1_epi32(0x7FFFFFFF);
    const __m256i magnitude = _mm256_and_si256(bits, abs_mask);
    bits = _mm256_blendv_epi8(bits, _mm256_set1_epi32(static_cast<int32_t>(0xFF800000u)),
                              _mm256_cmpgt_epi32(magnitude, _mm256_set1_epi32(0x7F800000)));
    bits = _mm256_andnot_si256(_mm256_cmpeq_epi32(magnitude, _mm256_setzero_si256()), bits);
    return _mm256_xor_si256(bits, _mm256_and_si256(_mm256_srai_epi32(bits, 31), abs_mask));
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq"), always_inline)) inline __m512i ranks16(__m512i bits) {
    const __m512i abs_mask = _mm512_set1_epi32(0x7FFFFFFF);
    const __m512i magnitude = _mm512_and_si512(bits, abs_mask);
    bits = _mm512_mask_mov_epi32(bits, _mm512_cmpgt_epi32_mask(magnitude, _mm512_set1_epi32(0x7F800000)),
                                 _mm512_set1_epi32(static_cast<int32_t>(0xFF800000u)));
    bits = _mm512_maskz_mov_epi32(_mm512_test_epi32_mask(magnitude, magnitude), bits);
    return _mm512_xor_si512(bits, _mm512_and_si512(_mm512_srai_epi32(bits, 31), abs_mask));
}

}  // namespace
}  // namespace sparsifiner
