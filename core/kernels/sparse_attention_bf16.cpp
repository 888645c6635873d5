// The bf16 sparse attention core (sparse_attention_bf16.h). sparse_attention_bf16_fits runs on any
// CPU; everything after the target switch below may use AVX-512 with AVX512_BF16 and runs only
// after fits() said the CPU has them.
#include "core/kernels/sparse_attention_bf16.h"

#include <cmath>
#include <cstdint>

#include "core/kernels/head_rows.h"
#include "core/kernels/sparse_attention.h"
#include "core/platform/cpu_info.h"
#include "core/platform/thread_scratch.h"

namespace sparsifiner {

bool sparse_attention_bf16_fits(int d) {
    static const bool native = cpu_has_avx512_bf16();
    return native && d == 64;
}

}  // namespace sparsifiner

// From here on: AVX-512 (F, BW, VL, DQ) with AVX512_BF16 (vcvtne2ps2bf16, vdpbf16ps).
#include "core/kernels/simd/simd_target_avx512.h"
#pragma GCC target("avx512bf16")
#include <immintrin.h>

#include "core/kernels/simd/simd_avx512.h"
#include "core/kernels/simd/simd_math.h"

namespace sparsifiner {

namespace {

using V = SimdAvx512;
constexpr int kD = 64;  // head dimension; a bf16 row is 128 bytes: two vectors of 32 values

size_t pad16(size_t n) { return (n + 15) / 16 * 16; }

// 64 floats (times scale) as two vectors of 32 bf16 in memory order, i.e. as 16 pairs each along d.
inline void row_to_bf16(const float* x, __m512 scale, __m512i* out) {
    out[0] = (__m512i)_mm512_cvtne2ps_pbh(_mm512_mul_ps(_mm512_loadu_ps(x + 16), scale), _mm512_mul_ps(_mm512_loadu_ps(x), scale));
    out[1] = (__m512i)_mm512_cvtne2ps_pbh(_mm512_mul_ps(_mm512_loadu_ps(x + 48), scale), _mm512_mul_ps(_mm512_loadu_ps(x + 32), scale));
}

// q . k as 16 partial sums, k a bf16 row.
inline __m512 dot(const __m512i* q, const __m512i* k) {
    __m512 acc = _mm512_dpbf16_ps(_mm512_setzero_ps(), (__m512bh)q[0], (__m512bh)_mm512_load_si512(k));
    return _mm512_dpbf16_ps(acc, (__m512bh)q[1], (__m512bh)_mm512_load_si512(k + 1));
}

// scores[t] = q . k_index(t) for t < count (index nullptr: t itself); returns their maximum.
float row_scores(const __m512i* q, const __m512i* keys, const int32_t* index, int count, float* scores) {
    __m256 vmax = _mm256_set1_ps(-INFINITY);
    int t = 0;
    for (; t + 8 <= count; t += 8) {
        __m512 d8[8];
        for (int u = 0; u < 8; u++) d8[u] = dot(q, keys + 2 * (index ? index[t + u] : t + u));
        const __m256 s = V::hsum8(d8);
        _mm256_storeu_ps(scores + t, s);
        vmax = _mm256_max_ps(vmax, s);
    }
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, vmax);
    float max_score = lanes[0];
    for (int u = 1; u < 8; u++) max_score = std::fmax(max_score, lanes[u]);
    for (; t < count; t++) {
        scores[t] = _mm512_reduce_add_ps(dot(q, keys + 2 * (index ? index[t] : t)));
        max_score = std::fmax(max_score, scores[t]);
    }
    return max_score;
}

// out[0, 64) = sum_t p[t] v_index(t), two keys per vdpbf16ps: their values interleaved per
// element (unpacklo/hi within each 128-bit lane), p as the matching bf16 pair. The interleave
// permutes the elements within the accumulators; the final permutation puts them back.
void row_values(const float* p, const __m512i* values, const int32_t* index, int count, float* out) {
    __m512 lo0 = _mm512_setzero_ps(), hi0 = lo0, lo1 = lo0, hi1 = lo0;
    const __m512i zero = _mm512_setzero_si512();
    for (int t = 0; t < count; t += 2) {
        const bool pair = t + 1 < count;
        const __m512i* a = values + 2 * (index ? index[t] : t);
        const __m512i a0 = _mm512_load_si512(a), a1 = _mm512_load_si512(a + 1);
        __m512i b0 = zero, b1 = zero;
        if (pair) {
            const __m512i* b = values + 2 * (index ? index[t + 1] : t + 1);
            b0 = _mm512_load_si512(b), b1 = _mm512_load_si512(b + 1);
        }
        // bf16 of (p[t], p[t+1]) as one 32-bit lane, p[t] in the low half like a's values.
        const __m128bh pp = _mm_cvtneps_pbh(_mm_setr_ps(p[t], pair ? p[t + 1] : 0.f, 0.f, 0.f));
        const __m512bh pv = (__m512bh)_mm512_set1_epi32(_mm_cvtsi128_si32((__m128i)pp));
        lo0 = _mm512_dpbf16_ps(lo0, pv, (__m512bh)_mm512_unpacklo_epi16(a0, b0));
        hi0 = _mm512_dpbf16_ps(hi0, pv, (__m512bh)_mm512_unpackhi_epi16(a0, b0));
        lo1 = _mm512_dpbf16_ps(lo1, pv, (__m512bh)_mm512_unpacklo_epi16(a1, b1));
        hi1 = _mm512_dpbf16_ps(hi1, pv, (__m512bh)_mm512_unpackhi_epi16(a1, b1));
    }
    // lo lanes 4l..4l+3 hold elements 8l..8l+3 of their 32, hi lanes 4l.. hold 8l+4..8l+7.
    const __m512i first = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
    const __m512i second = _mm512_setr_epi32(8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
    _mm512_storeu_ps(out, _mm512_permutex2var_ps(lo0, first, hi0));
    _mm512_storeu_ps(out + 16, _mm512_permutex2var_ps(lo0, second, hi0));
    _mm512_storeu_ps(out + 32, _mm512_permutex2var_ps(lo1, first, hi1));
    _mm512_storeu_ps(out + 48, _mm512_permutex2var_ps(lo1, second, hi1));
}

// Query rows [row_begin, row_end) of image b, head h, against that head's K and V in bf16
// (keys, values: [N] rows of two vectors). scratch: the scores [max(N, k)] and the output row [64].
void rows_bf16(const SparseAttentionArgs& a, int b, int h, int row_begin, int row_end, const __m512i* keys,
               const __m512i* values, float* scratch) {
    const SparseHeadView head(a, b, h);
    const int N = a.N;
    float* scores = scratch;
    float* acc = scores + pad16(static_cast<size_t>(N > a.k ? N : a.k));
    const __m512 scale = _mm512_set1_ps(0.125f);  // 64^-0.5, exact
    for (int i = row_begin; i < row_end; i++) {
        __m512i q[2];
        row_to_bf16(head.query(i), scale, q);
        const int32_t* index = head.kept(i);
        const int count = head.count(i);
        const float max_score = row_scores(q, keys, index, count, scores);
        const float inv_sum = 1.0f / exp_and_sum<V>(scores, count, max_score);
        row_values(scores, values, index, count, acc);
        float* o = head.out(i);
        const __m512 inv = _mm512_set1_ps(inv_sum);
        for (int c = 0; c < kD; c += 16) _mm512_storeu_ps(o + c, _mm512_mul_ps(_mm512_loadu_ps(acc + c), inv));
        if (i == 0 && a.cls_probs) {
            float* probs = a.cls_probs + (static_cast<long long>(b) * a.H + h) * N;
            for (int t = 0; t < N; t++) probs[t] = scores[t] * inv_sum;
        }
    }
}

}  // namespace

void sparse_attention_forward_bf16(const float* qkv, const int32_t* key_index, float* out, float* cls_probs,
                                   int B, int N, int H, int d, int k, long long index_stride) {
    if (B <= 0 || N <= 0 || H <= 0 || d != kD) return;
    const SparseAttentionArgs args{qkv, key_index, out, cls_probs, B, N, H, d, k,
                                   index_stride < 0 ? static_cast<long long>(N - 1) * k : index_stride};
    // Every head's K and V rounded to bf16 once ([B, H, N] rows of 128 bytes each), before the
    // work items (an item per head and chunk of rows would otherwise round its head again).
    const size_t head_rows = static_cast<size_t>(B) * H * N;
    __m512i* keys = reinterpret_cast<__m512i*>(thread_scratch(2 * 32 * head_rows, ScratchSlot::prepared));
    __m512i* values = keys + 2 * head_rows;
    const __m512 one = _mm512_set1_ps(1.0f);
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            const SparseHeadView head(args, b, h);
            const size_t first = (static_cast<size_t>(b) * H + h) * N;
            for (int j = 0; j < N; j++) {
                row_to_bf16(head.keys + j * head.row_stride, one, keys + 2 * (first + j));
                row_to_bf16(head.values + j * head.row_stride, one, values + 2 * (first + j));
            }
        }
    // Per item: the scores (padded to a vector: exp_and_sum writes -inf up to it) and one output row.
    const size_t floats = pad16(static_cast<size_t>(N > k ? N : k)) + 16 + kD;
    for_each_head_rows(B, H, N, sparse_attention_rows_per_item(B, H, N), [&](int b, int h, int begin, int end) {
        const size_t first = (static_cast<size_t>(b) * H + h) * N;
        rows_bf16(args, b, h, begin, end, keys + 2 * first, values + 2 * first, thread_scratch(floats));
    });
}

}  // namespace sparsifiner
