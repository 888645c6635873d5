#pragma once
// The vector row kernel of sparse attention, written once over the vector vocabulary V
// (core/kernels/simd) and instantiated per ISA in sparse_attention_avx2.cpp and _avx512.cpp.
// Same steps as sparse_attention_rows_portable: scores, max-subtracted softmax, weighted V.
// Include only inside a target region, after the vocabulary and simd_math.h.
//
// hsum8 returns the eight sums of eight dot products as one 8-float AVX2 vector on every ISA,
// so the code that handles them uses AVX2 intrinsics directly (both ISAs have them).
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "core/kernels/sparse_attention.h"

namespace sparsifiner {
namespace {

inline float hmax8(__m256 v) {
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    return _mm_cvtss_f32(_mm_max_ss(m4, _mm_movehdup_ps(m4)));
}

// ---- any head dimension d ----

// scores[t] = q . key(t) * scale for t < count. Several keys per pass so that one load of q feeds
// several FMA chains and the horizontal sums are shared: eight on 8-float vectors (d = 64 is a
// chain of eight FMAs per key, eight chains hide the FMA latency), four on 16-float vectors.
template <class V>
void scores_any_d(const float* q, const float* keys, long long stride, const int32_t* index, int count, int d,
                  float scale, float* scores) {
    using Vec = typename V::Vec;
    constexpr int W = V::width;
    constexpr int kKeys = W == 8 ? 8 : 4;
    const int full = d / W * W;
    int t = 0;
    for (; t + kKeys <= count; t += kKeys) {
        const float* kr[kKeys];
        Vec acc[kKeys];
        for (int u = 0; u < kKeys; u++) {
            kr[u] = keys + (index ? index[t + u] : t + u) * stride;
            acc[u] = V::zero();
        }
        for (int c = 0; c < full; c += W) {
            const Vec qv = V::load(q + c);
            for (int u = 0; u < kKeys; u++) acc[u] = V::fma(qv, V::load(kr[u] + c), acc[u]);
        }
        if (full < d) {
            const Vec qv = V::load_head(q + full, d - full);
            for (int u = 0; u < kKeys; u++) acc[u] = V::fma(qv, V::load_head(kr[u] + full, d - full), acc[u]);
        }
        for (int u = 0; u < kKeys; u += 4)
            _mm_storeu_ps(scores + t + u,
                          _mm_mul_ps(V::hsum4(acc[u], acc[u + 1], acc[u + 2], acc[u + 3]), _mm_set1_ps(scale)));
    }
    for (; t < count; t++) {
        const float* key = keys + (index ? index[t] : t) * stride;
        Vec acc = V::zero();
        for (int c = 0; c < full; c += W) acc = V::fma(V::load(q + c), V::load(key + c), acc);
        if (full < d) acc = V::fma(V::load_head(q + full, d - full), V::load_head(key + full, d - full), acc);
        scores[t] = V::hsum(acc) * scale;
    }
}

// acc[0, d) = sum_t weights[t] * value(t), four value rows per pass over acc.
template <class V>
void weighted_values_any_d(const float* weights, const float* values, long long stride, const int32_t* index,
                           int count, int d, float* acc) {
    using Vec = typename V::Vec;
    constexpr int W = V::width;
    for (int c = 0; c < d; c++) acc[c] = 0.f;
    int t = 0;
    for (; t + 4 <= count; t += 4) {
        const float* v0 = values + (index ? index[t] : t) * stride;
        const float* v1 = values + (index ? index[t + 1] : t + 1) * stride;
        const float* v2 = values + (index ? index[t + 2] : t + 2) * stride;
        const float* v3 = values + (index ? index[t + 3] : t + 3) * stride;
        const Vec p0 = V::set1(weights[t]), p1 = V::set1(weights[t + 1]);
        const Vec p2 = V::set1(weights[t + 2]), p3 = V::set1(weights[t + 3]);
        for (int c = 0; c < d; c += W) {
            const int n = d - c;
            Vec a = V::load_head(acc + c, n);
            a = V::fma(p0, V::load_head(v0 + c, n), a);
            a = V::fma(p1, V::load_head(v1 + c, n), a);
            a = V::fma(p2, V::load_head(v2 + c, n), a);
            a = V::fma(p3, V::load_head(v3 + c, n), a);
            V::store_head(acc + c, n, a);
        }
    }
    for (; t < count; t++) {
        const float* v = values + (index ? index[t] : t) * stride;
        const Vec p = V::set1(weights[t]);
        for (int c = 0; c < d; c += W)
            V::store_head(acc + c, d - c, V::fma(p, V::load_head(v + c, d - c), V::load_head(acc + c, d - c)));
    }
}

template <class V>
void rows_any_d(const SparseAttentionArgs& a, int b, int h, int row_begin, int row_end, float* scratch) {
    const SparseHeadView head(a, b, h);
    const int N = a.N, d = a.d;
    const float scale = 1.0f / std::sqrt(static_cast<float>(d));
    float* scores = scratch;
    float* acc = scratch + (static_cast<size_t>(N > a.k ? N : a.k) + 15) / 16 * 16;
    for (int i = row_begin; i < row_end; i++) {
        const int32_t* index = head.kept(i);
        const int count = head.count(i);
        scores_any_d<V>(head.query(i), head.keys, head.row_stride, index, count, d, scale, scores);
        const float inv_sum = 1.0f / exp_and_sum<V>(scores, count, row_max_of<V>(scores, count));
        weighted_values_any_d<V>(scores, head.values, head.row_stride, index, count, d, acc);
        float* o = head.out(i);
        const typename V::Vec inv = V::set1(inv_sum);
        for (int c = 0; c < d; c += V::width)
            V::store_head(o + c, d - c, V::mul(V::load_head(acc + c, d - c), inv));
        if (i == 0 && a.cls_probs) {
            float* probs = a.cls_probs + (static_cast<long long>(b) * a.H + h) * N;
            for (int t = 0; t < N; t++) probs[t] = scores[t] * inv_sum;
        }
    }
}

// ---- d = 64: the query (times the scale) stays in 64 / width registers ----

template <class V>
struct Head64 {
    static constexpr int regs = 64 / V::width;
    typename V::Vec v[regs];
    // q * 64^-0.5 (exact: pre-scaling q by a power of two changes no rounding).
    explicit Head64(const float* q) {
        for (int c = 0; c < regs; c++) v[c] = V::mul(V::load(q + c * V::width), V::set1(0.125f));
    }
    // One dot product as a vector of partial sums.
    typename V::Vec dot(const float* key) const {
        typename V::Vec a = V::mul(v[0], V::load(key));
        for (int c = 1; c < regs; c++) a = V::fma(v[c], V::load(key + c * V::width), a);
        return a;
    }
    // Eight dot products' sums as one vector.
    __m256 dot8(const float* const* key) const {
        typename V::Vec d8[8];
        for (int u = 0; u < 8; u++) d8[u] = dot(key[u]);
        return V::hsum8(d8);
    }
};

// The dense cls row: keys 0..N-1 in order, no tiling needed. out = softmax(q K^T) V; probs
// (optional) = the softmax.
template <class V>
void cls_row_d64(const float* q, const float* keys, const float* values, long long stride, int N, float* scores,
                 float* out, float* probs) {
    using Vec = typename V::Vec;
    const Head64<V> head(q);
    __m256 vmax = _mm256_set1_ps(-INFINITY);
    int t = 0;
    for (; t + 8 <= N; t += 8) {
        const float* kr[8];
        for (int u = 0; u < 8; u++) kr[u] = keys + (t + u) * stride;
        const __m256 s = head.dot8(kr);
        _mm256_storeu_ps(scores + t, s);
        vmax = _mm256_max_ps(vmax, s);
    }
    float max_score = hmax8(vmax);
    for (; t < N; t++) {
        scores[t] = V::hsum(head.dot(keys + t * stride));
        max_score = std::fmax(max_score, scores[t]);
    }
    const float inv_sum = 1.0f / exp_and_sum<V>(scores, N, max_score);
    Vec acc[Head64<V>::regs];
    for (auto& r : acc) r = V::zero();
    for (t = 0; t < N; t++) {
        const float* v = values + t * stride;
        const Vec p = V::set1(scores[t]);
        for (int c = 0; c < Head64<V>::regs; c++) acc[c] = V::fma(p, V::load(v + c * V::width), acc[c]);
    }
    const Vec inv = V::set1(inv_sum);
    for (int c = 0; c < Head64<V>::regs; c++) V::store(out + c * V::width, V::mul(acc[c], inv));
    if (probs)
        for (t = 0; t < N; t++) probs[t] = scores[t] * inv_sum;
}

// The line at p and the next one (a row's next sixteen to thirty-two indices or weights).
inline void prefetch_two_lines(const void* p) {
    _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0);
    _mm_prefetch(static_cast<const char*>(p) + 64, _MM_HINT_T0);
}

// The non-cls rows of a d = 64 work unit, kSparseBlockRows query rows at a time, walking the keys
// in tiles of kSparseTileKeys: every row of the block takes the kept keys it has in the current
// tile before the next tile starts, so the rows of a block share the tile's K (then V) rows while
// they are still in the near caches instead of each row sweeping the whole head. Measured on
// random masks (1 thread, N = 577 and 1025, keep 0.25): about 1.3x over the row-by-row loop.
// Each visit of a row to a tile starts on a new line of its key indices (and, in the second pass,
// of its weights), which with many rows interleaved comes from L2 or L3: the next row's lines are
// prefetched while this row works. With that prefetch 128 rows x 128 keys beat the 32 x 256 used
// before (at 4097 tokens 129-134 against 143-160 ms per block, at 577 2.05-2.2 against
// 2.16-2.3; without the prefetch 128 x 128 took 160-171 at 4097). Scores are complete before the
// softmax (no online rescaling): the block's scores live in scratch. Groups of eight keys may run
// past the tile end; they stay correct, only less local.
template <class V>
void block_d64(const float* q_first, long long q_stride, const int32_t* index_first, int k, int rows,
               const float* keys, const float* values, long long kv_stride, int N, float* block_scores,
               size_t scores_stride, float* block_acc, float* out_first, long long out_stride) {
    using Vec = typename V::Vec;
    constexpr int kRegs = Head64<V>::regs;
    int cursor[kSparseBlockRows];
    float max_of_row[kSparseBlockRows], inv_sum[kSparseBlockRows];
    for (int r = 0; r < rows; r++) {
        cursor[r] = 0;
        max_of_row[r] = -INFINITY;
    }
    // Scores, eight keys at a time.
    for (int tile_end = kSparseTileKeys;; tile_end += kSparseTileKeys) {
        for (int r = 0; r < rows; r++) {
            const int32_t* index = index_first + static_cast<long long>(r) * k;
            int t = cursor[r];
            if (r + 1 < rows) prefetch_two_lines(index_first + static_cast<long long>(r + 1) * k + cursor[r + 1]);
            if (t + 8 > k || index[t] >= tile_end) continue;
            const Head64<V> head(q_first + r * q_stride);
            float* scores = block_scores + r * scores_stride;
            __m256 vmax = _mm256_set1_ps(max_of_row[r]);
            for (; t + 8 <= k && index[t] < tile_end; t += 8) {
                const float* kr[8];
                for (int u = 0; u < 8; u++) kr[u] = keys + index[t + u] * kv_stride;
                const __m256 sv = head.dot8(kr);
                _mm256_storeu_ps(scores + t, sv);
                vmax = _mm256_max_ps(vmax, sv);
            }
            cursor[r] = t;
            max_of_row[r] = hmax8(vmax);
        }
        if (tile_end >= N) break;
    }
    // The last k % 8 keys of each row, then the softmax numerators.
    for (int r = 0; r < rows; r++) {
        const int32_t* index = index_first + static_cast<long long>(r) * k;
        float* scores = block_scores + r * scores_stride;
        if (cursor[r] < k) {
            const Head64<V> head(q_first + r * q_stride);
            for (int t = cursor[r]; t < k; t++) {
                scores[t] = V::hsum(head.dot(keys + index[t] * kv_stride));
                max_of_row[r] = std::fmax(max_of_row[r], scores[t]);
            }
        }
        inv_sum[r] = 1.0f / exp_and_sum<V>(scores, k, max_of_row[r]);
        cursor[r] = 0;
    }
    // Weighted values: the accumulator of a row stays in registers while it takes its keys of the
    // current tile and goes back to scratch between tiles.
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < 64; c += V::width) V::store(block_acc + r * 64 + c, V::zero());
    for (int tile_end = kSparseTileKeys;; tile_end += kSparseTileKeys) {
        for (int r = 0; r < rows; r++) {
            const int32_t* index = index_first + static_cast<long long>(r) * k;
            int t = cursor[r];
            if (r + 1 < rows) {
                prefetch_two_lines(index_first + static_cast<long long>(r + 1) * k + cursor[r + 1]);
                prefetch_two_lines(block_scores + (r + 1) * scores_stride + cursor[r + 1]);
            }
            if (t >= k || index[t] >= tile_end) continue;
            const float* weights = block_scores + r * scores_stride;
            float* acc = block_acc + r * 64;
            Vec a[kRegs];
            for (int c = 0; c < kRegs; c++) a[c] = V::load(acc + c * V::width);
            for (; t < k && index[t] < tile_end; t++) {
                const float* v = values + index[t] * kv_stride;
                const Vec p = V::set1(weights[t]);
                for (int c = 0; c < kRegs; c++) a[c] = V::fma(p, V::load(v + c * V::width), a[c]);
            }
            cursor[r] = t;
            for (int c = 0; c < kRegs; c++) V::store(acc + c * V::width, a[c]);
        }
        if (tile_end >= N) break;
    }
    for (int r = 0; r < rows; r++) {
        const Vec inv = V::set1(inv_sum[r]);
        float* o = out_first + r * out_stride;
        for (int c = 0; c < 64; c += V::width) V::store(o + c, V::mul(V::load(block_acc + r * 64 + c), inv));
    }
}

// K or V of one head copied to contiguous [N, 64] rows (see sparse_attention_copy_pays).
template <class V>
void copy_head_d64(const float* src, long long stride, int N, float* dst) {
    for (int j = 0; j < N; j++)
        for (int c = 0; c < 64; c += V::width) V::store(dst + static_cast<size_t>(j) * 64 + c, V::load(src + j * stride + c));
}

template <class V>
void rows_d64(const SparseAttentionArgs& a, int b, int h, int row_begin, int row_end, float* scratch) {
    const int N = a.N, D = a.H * 64;
    const long long row_stride = 3LL * D;
    const float* image = a.qkv + static_cast<long long>(b) * N * row_stride;
    const SparseScratch layout = sparse_scratch_layout(N, a.k, 64);
    const float* keys = image + D + h * 64;
    const float* values = image + 2 * D + h * 64;
    long long kv_stride = row_stride;
    if (sparse_attention_copy_pays(row_end - row_begin, a.k, N, 64)) {
        copy_head_d64<V>(keys, row_stride, N, scratch + layout.keys);
        copy_head_d64<V>(values, row_stride, N, scratch + layout.values);
        keys = scratch + layout.keys;
        values = scratch + layout.values;
        kv_stride = 64;
    }
    int i = row_begin;
    if (i == 0) {
        cls_row_d64<V>(image + h * 64, keys, values, kv_stride, N, scratch,
                       a.out + static_cast<long long>(b) * N * D + h * 64,
                       a.cls_probs ? a.cls_probs + (static_cast<long long>(b) * a.H + h) * N : nullptr);
        i = 1;
    }
    const int32_t* head_index = a.key_index + (static_cast<long long>(b) * a.H + h) * a.index_stride;
    for (; i < row_end; i += kSparseBlockRows) {
        const int rows = row_end - i < kSparseBlockRows ? row_end - i : kSparseBlockRows;
        block_d64<V>(image + i * row_stride + h * 64, row_stride, head_index + static_cast<long long>(i - 1) * a.k, a.k,
                     rows, keys, values, kv_stride, N, scratch + layout.block_scores, layout.block_scores_stride,
                     scratch + layout.block_acc, a.out + (static_cast<long long>(b) * N + i) * D + h * 64, D);
    }
}

// Query rows [row_begin, row_end) of image b, head h.
template <class V>
void sparse_attention_rows_vector(const SparseAttentionArgs& a, int b, int h, int row_begin, int row_end,
                                  float* scratch) {
    if (a.d == 64)
        rows_d64<V>(a, b, h, row_begin, row_end, scratch);
    else
        rows_any_d<V>(a, b, h, row_begin, row_end, scratch);
}

}  // namespace
}  // namespace sparsifiner
