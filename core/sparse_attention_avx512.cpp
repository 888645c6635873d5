// AVX-512 (F, BW, VL, DQ) row kernel of sparse attention: the AVX2 kernel's steps on 16-float
// vectors, with masked loads for a head dimension that is not a multiple of 16 (d = 64 is four
// vectors). Compiled with per-function target attributes; called only when the CPU has them.
// GCC 12's AVX-512 headers build "undefined" vectors by self-initialisation, which trips
// -Wmaybe-uninitialized on every inlined intrinsic: a known false positive, silenced here only.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cmath>

#include "core/sparse_attention.h"

#define SPARSIFINER_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma")))

namespace sparsifiner {

namespace {

// e^x as in exp_avx2 (same range reduction, same degree-6 polynomial, same flush below -87.3).
SPARSIFINER_AVX512 inline __m512 exp_avx512(__m512 x) {
    const __mmask16 valid = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.3f), _CMP_GE_OQ);
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.3f)), _mm512_set1_ps(88.3f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.0f / 720);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    const __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_maskz_mov_ps(valid, _mm512_mul_ps(p, _mm512_castsi512_ps(bits)));
}

// 16 -> 8 lanes, then the same hadd tree as AVX2: [sum a0, sum a1, sum a2, sum a3].
SPARSIFINER_AVX512 inline __m256 fold_avx512(__m512 v) {
    return _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
}
SPARSIFINER_AVX512 inline __m128 hsum4_avx512(__m512 a0, __m512 a1, __m512 a2, __m512 a3) {
    const __m256 s01 = _mm256_hadd_ps(fold_avx512(a0), fold_avx512(a1));
    const __m256 s23 = _mm256_hadd_ps(fold_avx512(a2), fold_avx512(a3));
    const __m256 s = _mm256_hadd_ps(s01, s23);
    return _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
}

// Lanes [0, d - c) of the chunk starting at column c.
SPARSIFINER_AVX512 inline __mmask16 lanes_avx512(int c, int d) {
    const int left = d - c;
    return left >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1);
}

SPARSIFINER_AVX512 void scores_avx512(const float* q, const float* keys, long long stride, const int32_t* index,
                                      int count, int d, float scale, float* scores) {
    int t = 0;
    for (; t + 4 <= count; t += 4) {
        const float* k0 = keys + (index ? index[t] : t) * stride;
        const float* k1 = keys + (index ? index[t + 1] : t + 1) * stride;
        const float* k2 = keys + (index ? index[t + 2] : t + 2) * stride;
        const float* k3 = keys + (index ? index[t + 3] : t + 3) * stride;
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int c = 0; c < d; c += 16) {
            const __mmask16 m = lanes_avx512(c, d);
            const __m512 qv = _mm512_maskz_loadu_ps(m, q + c);
            a0 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, k0 + c), a0);
            a1 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, k1 + c), a1);
            a2 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, k2 + c), a2);
            a3 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, k3 + c), a3);
        }
        _mm_storeu_ps(scores + t, _mm_mul_ps(hsum4_avx512(a0, a1, a2, a3), _mm_set1_ps(scale)));
    }
    for (; t < count; t++) {
        const float* key = keys + (index ? index[t] : t) * stride;
        __m512 a = _mm512_setzero_ps();
        for (int c = 0; c < d; c += 16) {
            const __mmask16 m = lanes_avx512(c, d);
            a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + c), _mm512_maskz_loadu_ps(m, key + c), a);
        }
        scores[t] = _mm512_reduce_add_ps(a) * scale;
    }
}

// As softmax_numerators_avx2; the scratch row is padded to a multiple of 16 floats.
SPARSIFINER_AVX512 float softmax_numerators_avx512(float* scores, int count) {
    const int padded = (count + 15) / 16 * 16;
    for (int t = count; t < padded; t++) scores[t] = -INFINITY;
    __m512 m = _mm512_set1_ps(-INFINITY);
    for (int t = 0; t < padded; t += 16) m = _mm512_max_ps(m, _mm512_loadu_ps(scores + t));
    const __m512 max_score = _mm512_set1_ps(_mm512_reduce_max_ps(m));
    __m512 sum = _mm512_setzero_ps();
    for (int t = 0; t < padded; t += 16) {
        const __m512 e = exp_avx512(_mm512_sub_ps(_mm512_loadu_ps(scores + t), max_score));
        _mm512_storeu_ps(scores + t, e);
        sum = _mm512_add_ps(sum, e);
    }
    return _mm512_reduce_add_ps(sum);
}

SPARSIFINER_AVX512 void weighted_values_avx512(const float* weights, const float* values, long long stride,
                                               const int32_t* index, int count, int d, float* acc) {
    for (int c = 0; c < d; c++) acc[c] = 0.f;
    int t = 0;
    for (; t + 4 <= count; t += 4) {
        const float* v0 = values + (index ? index[t] : t) * stride;
        const float* v1 = values + (index ? index[t + 1] : t + 1) * stride;
        const float* v2 = values + (index ? index[t + 2] : t + 2) * stride;
        const float* v3 = values + (index ? index[t + 3] : t + 3) * stride;
        const __m512 p0 = _mm512_set1_ps(weights[t]), p1 = _mm512_set1_ps(weights[t + 1]);
        const __m512 p2 = _mm512_set1_ps(weights[t + 2]), p3 = _mm512_set1_ps(weights[t + 3]);
        for (int c = 0; c < d; c += 16) {
            const __mmask16 m = lanes_avx512(c, d);
            __m512 a = _mm512_maskz_loadu_ps(m, acc + c);
            a = _mm512_fmadd_ps(p0, _mm512_maskz_loadu_ps(m, v0 + c), a);
            a = _mm512_fmadd_ps(p1, _mm512_maskz_loadu_ps(m, v1 + c), a);
            a = _mm512_fmadd_ps(p2, _mm512_maskz_loadu_ps(m, v2 + c), a);
            a = _mm512_fmadd_ps(p3, _mm512_maskz_loadu_ps(m, v3 + c), a);
            _mm512_mask_storeu_ps(acc + c, m, a);
        }
    }
    for (; t < count; t++) {
        const float* v = values + (index ? index[t] : t) * stride;
        const __m512 p = _mm512_set1_ps(weights[t]);
        for (int c = 0; c < d; c += 16) {
            const __mmask16 m = lanes_avx512(c, d);
            _mm512_mask_storeu_ps(acc + c, m,
                                  _mm512_fmadd_ps(p, _mm512_maskz_loadu_ps(m, v + c), _mm512_maskz_loadu_ps(m, acc + c)));
        }
    }
}

}  // namespace

SPARSIFINER_AVX512 void sparse_attention_rows_avx512(const SparseAttentionArgs& a, int b, int h, int row_begin,
                                                     int row_end, float* scratch) {
    const int N = a.N, d = a.d, D = a.H * a.d;
    const long long row_stride = 3LL * D;
    const float scale = 1.0f / std::sqrt(static_cast<float>(d));
    const float* image = a.qkv + static_cast<long long>(b) * N * row_stride;
    const float* keys = image + D + h * d;
    const float* values = image + 2 * D + h * d;
    float* scores = scratch;
    float* acc = scratch + (static_cast<size_t>(N > a.k ? N : a.k) + 15) / 16 * 16;
    for (int i = row_begin; i < row_end; i++) {
        const float* q = image + i * row_stride + h * d;
        const int32_t* index = i == 0 ? nullptr
                                      : a.key_index + (static_cast<long long>(b) * a.H + h) * a.index_stride +
                                            static_cast<long long>(i - 1) * a.k;
        const int count = i == 0 ? N : a.k;
        scores_avx512(q, keys, row_stride, index, count, d, scale, scores);
        const float inv_sum = 1.0f / softmax_numerators_avx512(scores, count);
        weighted_values_avx512(scores, values, row_stride, index, count, d, acc);
        float* o = a.out + (static_cast<long long>(b) * N + i) * D + h * d;
        const __m512 inv = _mm512_set1_ps(inv_sum);
        for (int c = 0; c < d; c += 16) {
            const __mmask16 m = lanes_avx512(c, d);
            _mm512_mask_storeu_ps(o + c, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, acc + c), inv));
        }
        if (i == 0 && a.cls_probs) {
            float* probs = a.cls_probs + (static_cast<long long>(b) * a.H + h) * N;
            for (int t = 0; t < N; t++) probs[t] = scores[t] * inv_sum;
        }
    }
}

}  // namespace sparsifiner
