// AVX-512 (F, BW, VL, DQ) row kernel of sparse attention: the AVX2 kernel's steps on 16-float
// vectors, with masked loads for a head dimension that is not a multiple of 16 (d = 64 is four
// vectors). Compiled with per-function target attributes; called only when the CPU has them.
// GCC 12's AVX-512 headers build "undefined" vectors by self-initialisation, which trips
// -Wmaybe-uninitialized on every inlined intrinsic: a known false positive, silenced here only.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <cmath>

#include "core/kernels/sparse_attention.h"

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

// ---- d = 64: the AVX2 kernel's design (sparse_attention_avx2.cpp) on 16-float vectors ----

// One d = 64 dot product as a vector of sixteen partial sums (qv: the query in four registers).
SPARSIFINER_AVX512 inline __m512 dot64_avx512(const __m512* qv, const float* key) {
    __m512 a = _mm512_mul_ps(qv[0], _mm512_loadu_ps(key));
    a = _mm512_fmadd_ps(qv[1], _mm512_loadu_ps(key + 16), a);
    a = _mm512_fmadd_ps(qv[2], _mm512_loadu_ps(key + 32), a);
    return _mm512_fmadd_ps(qv[3], _mm512_loadu_ps(key + 48), a);
}

// Eight dot products' partial sums to [sum a0, ..., sum a7]: each folded to 8 lanes, then the
// same transpose-reduce as hsum8_avx2.
SPARSIFINER_AVX512 inline __m256 hsum8_avx512(__m512 a0, __m512 a1, __m512 a2, __m512 a3, __m512 a4, __m512 a5,
                                              __m512 a6, __m512 a7) {
    const __m256 s0123 = _mm256_hadd_ps(_mm256_hadd_ps(fold_avx512(a0), fold_avx512(a1)),
                                        _mm256_hadd_ps(fold_avx512(a2), fold_avx512(a3)));
    const __m256 s4567 = _mm256_hadd_ps(_mm256_hadd_ps(fold_avx512(a4), fold_avx512(a5)),
                                        _mm256_hadd_ps(fold_avx512(a6), fold_avx512(a7)));
    return _mm256_add_ps(_mm256_permute2f128_ps(s0123, s4567, 0x20), _mm256_permute2f128_ps(s0123, s4567, 0x31));
}

SPARSIFINER_AVX512 inline void load_query64_avx512(const float* q, __m512* qv) {
    const __m512 scale = _mm512_set1_ps(0.125f);  // 64^-0.5, exact: pre-scaling q changes no rounding
    for (int c = 0; c < 4; c++) qv[c] = _mm512_mul_ps(_mm512_loadu_ps(q + 16 * c), scale);
}

// scores[t] = exp(scores[t] - max_score) in place (count rounded up to 16 with -inf padding, the
// scratch rows have room); returns their sum.
SPARSIFINER_AVX512 float exp_and_sum_avx512(float* scores, int count, float max_score) {
    const int padded = (count + 15) / 16 * 16;
    for (int t = count; t < padded; t++) scores[t] = -INFINITY;
    const __m512 m = _mm512_set1_ps(max_score);
    __m512 sum = _mm512_setzero_ps();
    for (int t = 0; t < padded; t += 16) {
        const __m512 e = exp_avx512(_mm512_sub_ps(_mm512_loadu_ps(scores + t), m));
        _mm512_storeu_ps(scores + t, e);
        sum = _mm512_add_ps(sum, e);
    }
    return _mm512_reduce_add_ps(sum);
}

// The dense cls row: keys 0..N-1 in order. out = softmax(q K^T) V; probs (optional) = the softmax.
SPARSIFINER_AVX512 void cls_row_d64_avx512(const float* q, const float* keys, const float* values, long long stride,
                                           int N, float* scores, float* out, float* probs) {
    __m512 qv[4];
    load_query64_avx512(q, qv);
    __m256 vmax = _mm256_set1_ps(-INFINITY);
    int t = 0;
    for (; t + 8 <= N; t += 8) {
        const float* k0 = keys + t * stride;
        const __m256 s = hsum8_avx512(dot64_avx512(qv, k0), dot64_avx512(qv, k0 + stride),
                                      dot64_avx512(qv, k0 + 2 * stride), dot64_avx512(qv, k0 + 3 * stride),
                                      dot64_avx512(qv, k0 + 4 * stride), dot64_avx512(qv, k0 + 5 * stride),
                                      dot64_avx512(qv, k0 + 6 * stride), dot64_avx512(qv, k0 + 7 * stride));
        _mm256_storeu_ps(scores + t, s);
        vmax = _mm256_max_ps(vmax, s);
    }
    float max_score = -INFINITY;
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, vmax);
    for (int l = 0; l < 8; l++) max_score = std::fmax(max_score, lanes[l]);
    for (; t < N; t++) {
        scores[t] = _mm512_reduce_add_ps(dot64_avx512(qv, keys + t * stride));
        max_score = std::fmax(max_score, scores[t]);
    }
    const float inv_sum = 1.0f / exp_and_sum_avx512(scores, N, max_score);
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (t = 0; t < N; t++) {
        const float* v = values + t * stride;
        const __m512 p = _mm512_set1_ps(scores[t]);
        a0 = _mm512_fmadd_ps(p, _mm512_loadu_ps(v), a0);
        a1 = _mm512_fmadd_ps(p, _mm512_loadu_ps(v + 16), a1);
        a2 = _mm512_fmadd_ps(p, _mm512_loadu_ps(v + 32), a2);
        a3 = _mm512_fmadd_ps(p, _mm512_loadu_ps(v + 48), a3);
    }
    const __m512 inv = _mm512_set1_ps(inv_sum);
    _mm512_storeu_ps(out, _mm512_mul_ps(a0, inv));
    _mm512_storeu_ps(out + 16, _mm512_mul_ps(a1, inv));
    _mm512_storeu_ps(out + 32, _mm512_mul_ps(a2, inv));
    _mm512_storeu_ps(out + 48, _mm512_mul_ps(a3, inv));
    if (probs)
        for (t = 0; t < N; t++) probs[t] = scores[t] * inv_sum;
}

// As block_d64_avx2: a block of query rows walks the keys tile by tile, scores first (eight keys
// per transpose-reduce), then the softmax, then the weighted values with the accumulator (four
// registers) going back to scratch between tiles.
SPARSIFINER_AVX512 void block_d64_avx512(const float* q_first, long long q_stride, const int32_t* index_first, int k,
                                         int rows, const float* keys, const float* values, long long kv_stride,
                                         int N, float* block_scores, size_t scores_stride, float* block_acc,
                                         float* out_first, long long out_stride) {
    int cursor[kSparseBlockRows];
    float row_max[kSparseBlockRows], inv_sum[kSparseBlockRows];
    for (int r = 0; r < rows; r++) {
        cursor[r] = 0;
        row_max[r] = -INFINITY;
    }
    for (int tile_end = kSparseTileKeys;; tile_end += kSparseTileKeys) {
        for (int r = 0; r < rows; r++) {
            const int32_t* index = index_first + static_cast<long long>(r) * k;
            int t = cursor[r];
            if (t + 8 > k || index[t] >= tile_end) continue;
            __m512 qv[4];
            load_query64_avx512(q_first + r * q_stride, qv);
            float* scores = block_scores + r * scores_stride;
            __m256 vmax = _mm256_set1_ps(row_max[r]);
            for (; t + 8 <= k && index[t] < tile_end; t += 8) {
                const int32_t* x = index + t;
                const __m256 sv = hsum8_avx512(
                    dot64_avx512(qv, keys + x[0] * kv_stride), dot64_avx512(qv, keys + x[1] * kv_stride),
                    dot64_avx512(qv, keys + x[2] * kv_stride), dot64_avx512(qv, keys + x[3] * kv_stride),
                    dot64_avx512(qv, keys + x[4] * kv_stride), dot64_avx512(qv, keys + x[5] * kv_stride),
                    dot64_avx512(qv, keys + x[6] * kv_stride), dot64_avx512(qv, keys + x[7] * kv_stride));
                _mm256_storeu_ps(scores + t, sv);
                vmax = _mm256_max_ps(vmax, sv);
            }
            cursor[r] = t;
            __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
            m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
            row_max[r] = _mm_cvtss_f32(_mm_max_ss(m4, _mm_movehdup_ps(m4)));
        }
        if (tile_end >= N) break;
    }
    for (int r = 0; r < rows; r++) {
        const int32_t* index = index_first + static_cast<long long>(r) * k;
        float* scores = block_scores + r * scores_stride;
        if (cursor[r] < k) {
            __m512 qv[4];
            load_query64_avx512(q_first + r * q_stride, qv);
            for (int t = cursor[r]; t < k; t++) {
                scores[t] = _mm512_reduce_add_ps(dot64_avx512(qv, keys + index[t] * kv_stride));
                row_max[r] = std::fmax(row_max[r], scores[t]);
            }
        }
        inv_sum[r] = 1.0f / exp_and_sum_avx512(scores, k, row_max[r]);
        cursor[r] = 0;
    }
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < 64; c += 16) _mm512_store_ps(block_acc + r * 64 + c, _mm512_setzero_ps());
    for (int tile_end = kSparseTileKeys;; tile_end += kSparseTileKeys) {
        for (int r = 0; r < rows; r++) {
            const int32_t* index = index_first + static_cast<long long>(r) * k;
            int t = cursor[r];
            if (t >= k || index[t] >= tile_end) continue;
            const float* weights = block_scores + r * scores_stride;
            float* acc = block_acc + r * 64;
            __m512 a0 = _mm512_load_ps(acc), a1 = _mm512_load_ps(acc + 16), a2 = _mm512_load_ps(acc + 32),
                   a3 = _mm512_load_ps(acc + 48);
            for (; t < k && index[t] < tile_end; t++) {
                const float* v = values + index[t] * kv_stride;
                const __m512 p = _mm512_set1_ps(weights[t]);
                a0 = _mm512_fmadd_ps(p, _mm512_loadu_ps(v), a0);
                a1 = _mm512_fmadd_ps(p, _mm512_loadu_ps(v + 16), a1);
                a2 = _mm512_fmadd_ps(p, _mm512_loadu_ps(v + 32), a2);
                a3 = _mm512_fmadd_ps(p, _mm512_loadu_ps(v + 48), a3);
            }
            cursor[r] = t;
            _mm512_store_ps(acc, a0);
            _mm512_store_ps(acc + 16, a1);
            _mm512_store_ps(acc + 32, a2);
            _mm512_store_ps(acc + 48, a3);
        }
        if (tile_end >= N) break;
    }
    for (int r = 0; r < rows; r++) {
        const __m512 inv = _mm512_set1_ps(inv_sum[r]);
        float* o = out_first + r * out_stride;
        for (int c = 0; c < 64; c += 16)
            _mm512_storeu_ps(o + c, _mm512_mul_ps(_mm512_load_ps(block_acc + r * 64 + c), inv));
    }
}

SPARSIFINER_AVX512 void copy_head_d64_avx512(const float* src, long long stride, int N, float* dst) {
    for (int j = 0; j < N; j++)
        for (int c = 0; c < 64; c += 16)
            _mm512_store_ps(dst + static_cast<size_t>(j) * 64 + c, _mm512_loadu_ps(src + j * stride + c));
}

SPARSIFINER_AVX512 void rows_d64_avx512(const SparseAttentionArgs& a, int b, int h, int row_begin, int row_end,
                                        float* scratch) {
    const int N = a.N, D = a.H * 64;
    const long long row_stride = 3LL * D;
    const float* image = a.qkv + static_cast<long long>(b) * N * row_stride;
    const SparseScratch layout = sparse_scratch_layout(N, a.k, 64);
    const float* keys = image + D + h * 64;
    const float* values = image + 2 * D + h * 64;
    long long kv_stride = row_stride;
    if (sparse_attention_copy_pays(row_end - row_begin, a.k, N, 64)) {
        copy_head_d64_avx512(keys, row_stride, N, scratch + layout.keys);
        copy_head_d64_avx512(values, row_stride, N, scratch + layout.values);
        keys = scratch + layout.keys;
        values = scratch + layout.values;
        kv_stride = 64;
    }
    int i = row_begin;
    if (i == 0) {
        cls_row_d64_avx512(image + h * 64, keys, values, kv_stride, N, scratch,
                           a.out + static_cast<long long>(b) * N * D + h * 64,
                           a.cls_probs ? a.cls_probs + (static_cast<long long>(b) * a.H + h) * N : nullptr);
        i = 1;
    }
    const int32_t* head_index = a.key_index + (static_cast<long long>(b) * a.H + h) * a.index_stride;
    for (; i < row_end; i += kSparseBlockRows) {
        const int rows = row_end - i < kSparseBlockRows ? row_end - i : kSparseBlockRows;
        block_d64_avx512(image + i * row_stride + h * 64, row_stride, head_index + static_cast<long long>(i - 1) * a.k,
                         a.k, rows, keys, values, kv_stride, N, scratch + layout.block_scores,
                         layout.block_scores_stride, scratch + layout.block_acc,
                         a.out + (static_cast<long long>(b) * N + i) * D + h * 64, D);
    }
}

}  // namespace

SPARSIFINER_AVX512 void sparse_attention_rows_avx512(const SparseAttentionArgs& a, int b, int h, int row_begin,
                                                     int row_end, float* scratch) {
    if (a.d == 64) {
        rows_d64_avx512(a, b, h, row_begin, row_end, scratch);
        return;
    }
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
