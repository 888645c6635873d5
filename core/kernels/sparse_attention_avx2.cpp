// AVX2 + FMA row kernel of sparse attention. Every function carries target("avx2,fma") so this
// file compiles in the default (any x86-64) build; the dispatcher only calls it when the CPU has
// both. Same steps as sparse_attention_rows_portable: scores, max-subtracted softmax, weighted V.
#include <immintrin.h>

#include <cmath>

#include "core/kernels/sparse_attention.h"

#define SPARSIFINER_AVX2 __attribute__((target("avx2,fma")))

namespace sparsifiner {

namespace {

// e^x for x <= 0 (softmax arguments are max-subtracted). x = n ln2 + r with |r| <= ln2/2, ln2
// split in two so that r is exact to float rounding; e^r by its degree-6 Taylor polynomial
// (truncation error below 1.3e-7 relative), 2^n by building the exponent bits. Below -87.3 the
// result would be denormal: it is flushed to 0, as are NaN inputs.
SPARSIFINER_AVX2 inline __m256 exp_avx2(__m256 x) {
    const __m256 valid = _mm256_cmp_ps(x, _mm256_set1_ps(-87.3f), _CMP_GE_OQ);
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.3f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.0f / 720);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_and_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(bits)), valid);
}

SPARSIFINER_AVX2 inline float hsum_avx2(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// The four horizontal sums of a0..a3 as one vector [sum a0, sum a1, sum a2, sum a3].
SPARSIFINER_AVX2 inline __m128 hsum4_avx2(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
    const __m256 s01 = _mm256_hadd_ps(a0, a1);
    const __m256 s23 = _mm256_hadd_ps(a2, a3);
    const __m256 s = _mm256_hadd_ps(s01, s23);
    return _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
}

// scores[t] = q . key(t) * scale for t < count, four keys at a time so that one load of q feeds
// four FMAs and the horizontal sums are shared.
SPARSIFINER_AVX2 void scores_avx2(const float* q, const float* keys, long long stride, const int32_t* index,
                                  int count, int d, float scale, float* scores) {
    const int d8 = d / 8 * 8;
    int t = 0;
    // Eight keys per pass: eight independent FMA chains hide the FMA latency that four leave
    // exposed (d = 64 is a chain of eight FMAs per key).
    for (; t + 8 <= count; t += 8) {
        const float* kr[8];
        for (int u = 0; u < 8; u++) kr[u] = keys + (index ? index[t + u] : t + u) * stride;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (int c = 0; c < d8; c += 8) {
            const __m256 qv = _mm256_loadu_ps(q + c);
            a0 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(kr[0] + c), a0);
            a1 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(kr[1] + c), a1);
            a2 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(kr[2] + c), a2);
            a3 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(kr[3] + c), a3);
            a4 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(kr[4] + c), a4);
            a5 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(kr[5] + c), a5);
            a6 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(kr[6] + c), a6);
            a7 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(kr[7] + c), a7);
        }
        __m128 lo = hsum4_avx2(a0, a1, a2, a3), hi = hsum4_avx2(a4, a5, a6, a7);
        if (d8 < d) {
            float tail[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            for (int u = 0; u < 8; u++)
                for (int c = d8; c < d; c++) tail[u] += q[c] * kr[u][c];
            lo = _mm_add_ps(lo, _mm_loadu_ps(tail));
            hi = _mm_add_ps(hi, _mm_loadu_ps(tail + 4));
        }
        _mm_storeu_ps(scores + t, _mm_mul_ps(lo, _mm_set1_ps(scale)));
        _mm_storeu_ps(scores + t + 4, _mm_mul_ps(hi, _mm_set1_ps(scale)));
    }
    for (; t < count; t++) {
        const float* key = keys + (index ? index[t] : t) * stride;
        __m256 a = _mm256_setzero_ps();
        for (int c = 0; c < d8; c += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(q + c), _mm256_loadu_ps(key + c), a);
        float s = hsum_avx2(a);
        for (int c = d8; c < d; c++) s += q[c] * key[c];
        scores[t] = s * scale;
    }
}

// scores[t] = exp(scores[t] - max) in place; returns their sum. The scratch row is padded to a
// multiple of 16 floats, so the tail is filled with -inf (exp gives 0) and processed whole.
SPARSIFINER_AVX2 float softmax_numerators_avx2(float* scores, int count) {
    const int padded = (count + 7) / 8 * 8;
    for (int t = count; t < padded; t++) scores[t] = -INFINITY;
    __m256 m = _mm256_set1_ps(-INFINITY);
    for (int t = 0; t < padded; t += 8) m = _mm256_max_ps(m, _mm256_loadu_ps(scores + t));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const __m256 max_score = _mm256_set1_ps(_mm_cvtss_f32(m4));
    __m256 sum = _mm256_setzero_ps();
    for (int t = 0; t < padded; t += 8) {
        const __m256 e = exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(scores + t), max_score));
        _mm256_storeu_ps(scores + t, e);
        sum = _mm256_add_ps(sum, e);
    }
    return hsum_avx2(sum);
}

// acc[0..d) = sum_t weights[t] * value(t), four value rows per pass over acc.
SPARSIFINER_AVX2 void weighted_values_avx2(const float* weights, const float* values, long long stride,
                                           const int32_t* index, int count, int d, float* acc) {
    const int d8 = d / 8 * 8;
    for (int c = 0; c < d; c++) acc[c] = 0.f;
    int t = 0;
    for (; t + 4 <= count; t += 4) {
        const float* v0 = values + (index ? index[t] : t) * stride;
        const float* v1 = values + (index ? index[t + 1] : t + 1) * stride;
        const float* v2 = values + (index ? index[t + 2] : t + 2) * stride;
        const float* v3 = values + (index ? index[t + 3] : t + 3) * stride;
        const __m256 p0 = _mm256_set1_ps(weights[t]), p1 = _mm256_set1_ps(weights[t + 1]);
        const __m256 p2 = _mm256_set1_ps(weights[t + 2]), p3 = _mm256_set1_ps(weights[t + 3]);
        for (int c = 0; c < d8; c += 8) {
            __m256 a = _mm256_loadu_ps(acc + c);
            a = _mm256_fmadd_ps(p0, _mm256_loadu_ps(v0 + c), a);
            a = _mm256_fmadd_ps(p1, _mm256_loadu_ps(v1 + c), a);
            a = _mm256_fmadd_ps(p2, _mm256_loadu_ps(v2 + c), a);
            a = _mm256_fmadd_ps(p3, _mm256_loadu_ps(v3 + c), a);
            _mm256_storeu_ps(acc + c, a);
        }
        for (int c = d8; c < d; c++)
            acc[c] += weights[t] * v0[c] + weights[t + 1] * v1[c] + weights[t + 2] * v2[c] + weights[t + 3] * v3[c];
    }
    for (; t < count; t++) {
        const float* v = values + (index ? index[t] : t) * stride;
        const __m256 p = _mm256_set1_ps(weights[t]);
        for (int c = 0; c < d8; c += 8)
            _mm256_storeu_ps(acc + c, _mm256_fmadd_ps(p, _mm256_loadu_ps(v + c), _mm256_loadu_ps(acc + c)));
        for (int c = d8; c < d; c++) acc[c] += weights[t] * v[c];
    }
}

// The eight horizontal sums of a0..a7 as one vector [sum a0, ..., sum a7]: a transpose-reduce
// (three rounds of hadd and one lane swap) instead of eight scalar reductions.
SPARSIFINER_AVX2 inline __m256 hsum8_avx2(__m256 a0, __m256 a1, __m256 a2, __m256 a3, __m256 a4, __m256 a5,
                                          __m256 a6, __m256 a7) {
    const __m256 s0123 = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    const __m256 s4567 = _mm256_hadd_ps(_mm256_hadd_ps(a4, a5), _mm256_hadd_ps(a6, a7));
    // s0123 = [a0..a3 over lanes 0-3 | a0..a3 over lanes 4-7], likewise s4567.
    return _mm256_add_ps(_mm256_permute2f128_ps(s0123, s4567, 0x20), _mm256_permute2f128_ps(s0123, s4567, 0x31));
}

// One d = 64 dot product as a vector of eight partial sums (qv: the query in eight registers).
SPARSIFINER_AVX2 inline __m256 dot64_avx2(const __m256* qv, const float* key) {
    __m256 a = _mm256_mul_ps(qv[0], _mm256_loadu_ps(key));
    for (int c = 1; c < 8; c++) a = _mm256_fmadd_ps(qv[c], _mm256_loadu_ps(key + 8 * c), a);
    return a;
}

// d = 64: the query (times the scale) stays in eight registers; eight keys per pass feed eight
// independent FMA chains whose sums come out as one vector. index == nullptr means keys
// 0..count-1 (the dense cls row, its only use now; the other rows go through block_d64_avx2).
// Returns the largest score.
SPARSIFINER_AVX2 float scores_d64_avx2(const float* q, const float* keys, long long stride, const int32_t* index,
                                       int count, float scale, float* scores) {
    const __m256 sv = _mm256_set1_ps(scale);
    const __m256 q0 = _mm256_mul_ps(_mm256_loadu_ps(q), sv), q1 = _mm256_mul_ps(_mm256_loadu_ps(q + 8), sv);
    const __m256 q2 = _mm256_mul_ps(_mm256_loadu_ps(q + 16), sv), q3 = _mm256_mul_ps(_mm256_loadu_ps(q + 24), sv);
    const __m256 q4 = _mm256_mul_ps(_mm256_loadu_ps(q + 32), sv), q5 = _mm256_mul_ps(_mm256_loadu_ps(q + 40), sv);
    const __m256 q6 = _mm256_mul_ps(_mm256_loadu_ps(q + 48), sv), q7 = _mm256_mul_ps(_mm256_loadu_ps(q + 56), sv);
    const __m256 qv[8] = {q0, q1, q2, q3, q4, q5, q6, q7};
    __m256 vmax = _mm256_set1_ps(-INFINITY);
    int t = 0;
    for (; t + 8 <= count; t += 8) {
        const float* kr[8];
        for (int u = 0; u < 8; u++) kr[u] = keys + (index ? index[t + u] : t + u) * stride;
        const __m256 s = hsum8_avx2(dot64_avx2(qv, kr[0]), dot64_avx2(qv, kr[1]), dot64_avx2(qv, kr[2]),
                                    dot64_avx2(qv, kr[3]), dot64_avx2(qv, kr[4]), dot64_avx2(qv, kr[5]),
                                    dot64_avx2(qv, kr[6]), dot64_avx2(qv, kr[7]));
        _mm256_storeu_ps(scores + t, s);
        vmax = _mm256_max_ps(vmax, s);
    }
    float max_score = -INFINITY;
    for (; t < count; t++) {
        scores[t] = hsum_avx2(dot64_avx2(qv, keys + (index ? index[t] : t) * stride));
        max_score = std::fmax(max_score, scores[t]);
    }
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    return std::fmax(max_score, _mm_cvtss_f32(m4));
}

// scores[t] = exp(scores[t] - max_score) in place (count rounded up to 8 with -inf padding, the
// scratch row has room); returns their sum.
SPARSIFINER_AVX2 float exp_and_sum_avx2(float* scores, int count, float max_score) {
    const int padded = (count + 7) / 8 * 8;
    for (int t = count; t < padded; t++) scores[t] = -INFINITY;
    const __m256 m = _mm256_set1_ps(max_score);
    __m256 sum = _mm256_setzero_ps();
    for (int t = 0; t < padded; t += 8) {
        const __m256 e = exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(scores + t), m));
        _mm256_storeu_ps(scores + t, e);
        sum = _mm256_add_ps(sum, e);
    }
    return hsum_avx2(sum);
}

// d = 64: out = (sum_t weights[t] * value(t)) * inv_sum with the accumulator in eight registers:
// one broadcast and eight FMAs per key.
SPARSIFINER_AVX2 void weighted_values_d64_avx2(const float* weights, const float* values, long long stride,
                                               const int32_t* index, int count, float inv_sum, float* out) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    for (int t = 0; t < count; t++) {
        const float* v = values + (index ? index[t] : t) * stride;
        const __m256 p = _mm256_broadcast_ss(weights + t);
        a0 = _mm256_fmadd_ps(p, _mm256_loadu_ps(v), a0);
        a1 = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + 8), a1);
        a2 = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + 16), a2);
        a3 = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + 24), a3);
        a4 = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + 32), a4);
        a5 = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + 40), a5);
        a6 = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + 48), a6);
        a7 = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + 56), a7);
    }
    const __m256 inv = _mm256_set1_ps(inv_sum);
    _mm256_storeu_ps(out, _mm256_mul_ps(a0, inv));
    _mm256_storeu_ps(out + 8, _mm256_mul_ps(a1, inv));
    _mm256_storeu_ps(out + 16, _mm256_mul_ps(a2, inv));
    _mm256_storeu_ps(out + 24, _mm256_mul_ps(a3, inv));
    _mm256_storeu_ps(out + 32, _mm256_mul_ps(a4, inv));
    _mm256_storeu_ps(out + 40, _mm256_mul_ps(a5, inv));
    _mm256_storeu_ps(out + 48, _mm256_mul_ps(a6, inv));
    _mm256_storeu_ps(out + 56, _mm256_mul_ps(a7, inv));
}

// K and V of head h copied to contiguous [N, 64] rows (see sparse_attention_copy_pays).
SPARSIFINER_AVX2 void copy_head_d64_avx2(const float* src, long long stride, int N, float* dst) {
    for (int j = 0; j < N; j++) {
        const float* s = src + j * stride;
        float* o = dst + static_cast<size_t>(j) * 64;
        for (int c = 0; c < 64; c += 8) _mm256_store_ps(o + c, _mm256_loadu_ps(s + c));
    }
}

// The non-cls rows of a d = 64 work unit, kSparseBlockRows query rows at a time, walking the keys
// in tiles of kSparseTileKeys: every row of the block takes the kept keys it has in the current
// tile before the next tile starts, so the rows of a block share the tile's K (then V) rows while
// they are still in the near caches instead of each row sweeping the whole head. Measured on
// random masks (1 thread, N = 577 and 1025, keep 0.25): about 1.3x over the row-by-row loop;
// 256-key tiles beat 32, 64 and 128. Scores are complete before the softmax (no online
// rescaling): the block's scores live in scratch. Groups of eight keys may run past the tile end;
// they stay correct, only less local.
SPARSIFINER_AVX2 void block_d64_avx2(const float* q_first, long long q_stride, const int32_t* index_first, int k,
                                     int rows, const float* keys, const float* values, long long kv_stride, int N,
                                     float* block_scores, size_t scores_stride, float* block_acc, float* out_first,
                                     long long out_stride) {
    int cursor[kSparseBlockRows];
    float row_max[kSparseBlockRows], inv_sum[kSparseBlockRows];
    for (int r = 0; r < rows; r++) {
        cursor[r] = 0;
        row_max[r] = -INFINITY;
    }
    const __m256 scale = _mm256_set1_ps(0.125f);  // 64^-0.5, exact: pre-scaling q changes no rounding
    // Scores, eight keys at a time.
    for (int tile_end = kSparseTileKeys;; tile_end += kSparseTileKeys) {
        for (int r = 0; r < rows; r++) {
            const int32_t* index = index_first + static_cast<long long>(r) * k;
            int t = cursor[r];
            if (t + 8 > k || index[t] >= tile_end) continue;
            const float* q = q_first + r * q_stride;
            __m256 qv[8];
            for (int c = 0; c < 8; c++) qv[c] = _mm256_mul_ps(_mm256_loadu_ps(q + 8 * c), scale);
            float* scores = block_scores + r * scores_stride;
            __m256 vmax = _mm256_set1_ps(row_max[r]);
            for (; t + 8 <= k && index[t] < tile_end; t += 8) {
                const __m256 sv = hsum8_avx2(
                    dot64_avx2(qv, keys + index[t] * kv_stride), dot64_avx2(qv, keys + index[t + 1] * kv_stride),
                    dot64_avx2(qv, keys + index[t + 2] * kv_stride), dot64_avx2(qv, keys + index[t + 3] * kv_stride),
                    dot64_avx2(qv, keys + index[t + 4] * kv_stride), dot64_avx2(qv, keys + index[t + 5] * kv_stride),
                    dot64_avx2(qv, keys + index[t + 6] * kv_stride), dot64_avx2(qv, keys + index[t + 7] * kv_stride));
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
    // The last k % 8 keys of each row, then the softmax numerators.
    for (int r = 0; r < rows; r++) {
        const int32_t* index = index_first + static_cast<long long>(r) * k;
        float* scores = block_scores + r * scores_stride;
        if (cursor[r] < k) {
            const float* q = q_first + r * q_stride;
            __m256 qv[8];
            for (int c = 0; c < 8; c++) qv[c] = _mm256_mul_ps(_mm256_loadu_ps(q + 8 * c), scale);
            for (int t = cursor[r]; t < k; t++) {
                scores[t] = hsum_avx2(dot64_avx2(qv, keys + index[t] * kv_stride));
                row_max[r] = std::fmax(row_max[r], scores[t]);
            }
        }
        inv_sum[r] = 1.0f / exp_and_sum_avx2(scores, k, row_max[r]);
        cursor[r] = 0;
    }
    // Weighted values: the accumulator of a row stays in registers while it takes its keys of the
    // current tile and goes back to scratch between tiles.
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < 64; c += 8) _mm256_store_ps(block_acc + r * 64 + c, _mm256_setzero_ps());
    for (int tile_end = kSparseTileKeys;; tile_end += kSparseTileKeys) {
        for (int r = 0; r < rows; r++) {
            const int32_t* index = index_first + static_cast<long long>(r) * k;
            int t = cursor[r];
            if (t >= k || index[t] >= tile_end) continue;
            const float* weights = block_scores + r * scores_stride;
            float* acc = block_acc + r * 64;
            __m256 a0 = _mm256_load_ps(acc), a1 = _mm256_load_ps(acc + 8), a2 = _mm256_load_ps(acc + 16);
            __m256 a3 = _mm256_load_ps(acc + 24), a4 = _mm256_load_ps(acc + 32), a5 = _mm256_load_ps(acc + 40);
            __m256 a6 = _mm256_load_ps(acc + 48), a7 = _mm256_load_ps(acc + 56);
            for (; t < k && index[t] < tile_end; t++) {
                const float* v = values + index[t] * kv_stride;
                const __m256 p = _mm256_broadcast_ss(weights + t);
                a0 = _mm256_fmadd_ps(p, _mm256_loadu_ps(v), a0);
                a1 = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + 8), a1);
                a2 = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + 16), a2);
                a3 = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + 24), a3);
                a4 = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + 32), a4);
                a5 = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + 40), a5);
                a6 = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + 48), a6);
                a7 = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + 56), a7);
            }
            cursor[r] = t;
            _mm256_store_ps(acc, a0);
            _mm256_store_ps(acc + 8, a1);
            _mm256_store_ps(acc + 16, a2);
            _mm256_store_ps(acc + 24, a3);
            _mm256_store_ps(acc + 32, a4);
            _mm256_store_ps(acc + 40, a5);
            _mm256_store_ps(acc + 48, a6);
            _mm256_store_ps(acc + 56, a7);
        }
        if (tile_end >= N) break;
    }
    for (int r = 0; r < rows; r++) {
        const __m256 inv = _mm256_set1_ps(inv_sum[r]);
        float* o = out_first + r * out_stride;
        for (int c = 0; c < 64; c += 8)
            _mm256_storeu_ps(o + c, _mm256_mul_ps(_mm256_load_ps(block_acc + r * 64 + c), inv));
    }
}

SPARSIFINER_AVX2 void rows_d64_avx2(const SparseAttentionArgs& a, int b, int h, int row_begin, int row_end,
                                    float* scratch) {
    const int N = a.N, D = a.H * 64;
    const long long row_stride = 3LL * D;
    const float* image = a.qkv + static_cast<long long>(b) * N * row_stride;
    const SparseScratch layout = sparse_scratch_layout(N, a.k, 64);
    float* scores = scratch;
    const float* keys = image + D + h * 64;
    const float* values = image + 2 * D + h * 64;
    long long kv_stride = row_stride;
    if (sparse_attention_copy_pays(row_end - row_begin, a.k, N, 64)) {
        copy_head_d64_avx2(keys, row_stride, N, scratch + layout.keys);
        copy_head_d64_avx2(values, row_stride, N, scratch + layout.values);
        keys = scratch + layout.keys;
        values = scratch + layout.values;
        kv_stride = 64;
    }
    int i = row_begin;
    if (i == 0) {
        // The cls row is dense: keys 0..N-1 in order, no tiling needed.
        const float max_score = scores_d64_avx2(image + h * 64, keys, kv_stride, nullptr, N, 0.125f, scores);
        const float inv_sum = 1.0f / exp_and_sum_avx2(scores, N, max_score);
        weighted_values_d64_avx2(scores, values, kv_stride, nullptr, N, inv_sum,
                                 a.out + static_cast<long long>(b) * N * D + h * 64);
        if (a.cls_probs) {
            float* probs = a.cls_probs + (static_cast<long long>(b) * a.H + h) * N;
            for (int t = 0; t < N; t++) probs[t] = scores[t] * inv_sum;
        }
        i = 1;
    }
    const int32_t* head_index = a.key_index + (static_cast<long long>(b) * a.H + h) * a.index_stride;
    for (; i < row_end; i += kSparseBlockRows) {
        const int rows = row_end - i < kSparseBlockRows ? row_end - i : kSparseBlockRows;
        block_d64_avx2(image + i * row_stride + h * 64, row_stride, head_index + static_cast<long long>(i - 1) * a.k,
                       a.k, rows, keys, values, kv_stride, N, scratch + layout.block_scores, layout.block_scores_stride,
                       scratch + layout.block_acc, a.out + (static_cast<long long>(b) * N + i) * D + h * 64, D);
    }
}

}  // namespace

SPARSIFINER_AVX2 void sparse_attention_rows_avx2(const SparseAttentionArgs& a, int b, int h, int row_begin,
                                                 int row_end, float* scratch) {
    if (a.d == 64) {
        rows_d64_avx2(a, b, h, row_begin, row_end, scratch);
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
        scores_avx2(q, keys, row_stride, index, count, d, scale, scores);
        const float inv_sum = 1.0f / softmax_numerators_avx2(scores, count);
        weighted_values_avx2(scores, values, row_stride, index, count, d, acc);
        float* o = a.out + (static_cast<long long>(b) * N + i) * D + h * d;
        const __m256 inv = _mm256_set1_ps(inv_sum);
        int c = 0;
        for (; c + 8 <= d; c += 8) _mm256_storeu_ps(o + c, _mm256_mul_ps(_mm256_loadu_ps(acc + c), inv));
        for (; c < d; c++) o[c] = acc[c] * inv_sum;
        if (i == 0 && a.cls_probs) {
            float* probs = a.cls_probs + (static_cast<long long>(b) * a.H + h) * N;
            for (int t = 0; t < N; t++) probs[t] = scores[t] * inv_sum;
        }
    }
}

}  // namespace sparsifiner
