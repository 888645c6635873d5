// AVX-512 kernels of the key top-k (core/topk_kernels.h): sixteen ranks per compare into a mask,
// selected lanes packed with vpcompressd into a register and stored whole (the memory form of
// vpcompressd is microcoded and slow on Zen 4), tails through masked loads. Compiled with
// per-function target attributes, called only on CPUs with AVX-512 F/BW/VL/DQ.
// GCC 12's AVX-512 headers build "undefined" vectors by self-initialisation, which trips
// -Wmaybe-uninitialized on every inlined intrinsic: a known false positive, silenced here only.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <climits>
#include <cmath>

#include "core/kernels/topk_kernels.h"
#include "core/kernels/topk_ranks.h"

#define SPARSIFINER_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))

namespace sparsifiner {

namespace {

SPARSIFINER_AVX512 inline __mmask16 tail_mask(int count) {
    return static_cast<__mmask16>((1u << count) - 1u);
}

SPARSIFINER_AVX512 void rank_row_avx512(const float* scores, int n, int32_t* ranks, int32_t* low, int32_t* high) {
    __m512i lo = _mm512_set1_epi32(INT32_MAX), hi = _mm512_set1_epi32(INT32_MIN);
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512i r = ranks16(_mm512_loadu_si512(scores + i));
        _mm512_storeu_si512(ranks + i, r);
        lo = _mm512_min_epi32(lo, r);
        hi = _mm512_max_epi32(hi, r);
    }
    if (i < n) {
        const __mmask16 tail = tail_mask(n - i);
        const __m512i r = ranks16(_mm512_maskz_loadu_epi32(tail, scores + i));
        _mm512_mask_storeu_epi32(ranks + i, tail, r);
        lo = _mm512_mask_min_epi32(lo, tail, lo, r);
        hi = _mm512_mask_max_epi32(hi, tail, hi, r);
    }
    *low = _mm512_reduce_min_epi32(lo);
    *high = _mm512_reduce_max_epi32(hi);
}

SPARSIFINER_AVX512 void rank_sample_avx512(const float* scores, int stride, int count, int32_t* ranks, int32_t* low,
                                          int32_t* high) {
    __m512i lo = _mm512_set1_epi32(INT32_MAX), hi = _mm512_set1_epi32(INT32_MIN);
    const __m512i offsets = _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), _mm512_set1_epi32(stride));
    for (int e = 0; e < count; e += 16) {
        const __mmask16 lanes = count - e >= 16 ? static_cast<__mmask16>(0xFFFF) : tail_mask(count - e);
        const __m512i bits = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), lanes, offsets,
                                                         scores + static_cast<long long>(e) * stride, 4);
        const __m512i r = ranks16(bits);
        _mm512_mask_storeu_epi32(ranks + e, lanes, r);
        lo = _mm512_mask_min_epi32(lo, lanes, lo, r);
        hi = _mm512_mask_max_epi32(hi, lanes, hi, r);
    }
    *low = _mm512_reduce_min_epi32(lo);
    *high = _mm512_reduce_max_epi32(hi);
}

SPARSIFINER_AVX512 int rank_band_avx512(const float* scores, int n, int32_t lo, int32_t hi, int32_t* ranks,
                                        int32_t* out_rank, int32_t* out_index, int* above) {
    const __m512i vlo = _mm512_set1_epi32(lo), vhi = _mm512_set1_epi32(hi), sixteen = _mm512_set1_epi32(16);
    __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    int written = 0, count_above = 0;
    for (int i = 0; i < n; i += 16) {
        const __mmask16 lanes = n - i >= 16 ? static_cast<__mmask16>(0xFFFF) : tail_mask(n - i);
        const __m512i r = ranks16(_mm512_maskz_loadu_epi32(lanes, scores + i));
        _mm512_mask_storeu_epi32(ranks + i, lanes, r);
        const __mmask16 is_above = _mm512_mask_cmpgt_epi32_mask(lanes, r, vhi);
        const __mmask16 inside = _mm512_mask_cmpge_epi32_mask(lanes, r, vlo) & ~is_above;
        count_above += __builtin_popcount(is_above);
        _mm512_storeu_si512(out_rank + written, _mm512_maskz_compress_epi32(inside, r));
        _mm512_storeu_si512(out_index + written, _mm512_maskz_compress_epi32(inside, iota));
        written += __builtin_popcount(inside);
        iota = _mm512_add_epi32(iota, sixteen);
    }
    *above = count_above;
    return written;
}

// Four independent accumulators (a true compare subtracts -1 from its lane), so that the adds do
// not chain; the tail through a masked compare.
SPARSIFINER_AVX512 int count_at_least_avx512(const int32_t* rank, int m, int32_t t) {
    const __m512i vt = _mm512_set1_epi32(t), minus_one = _mm512_set1_epi32(-1);
    __m512i c0 = _mm512_setzero_si512(), c1 = c0, c2 = c0, c3 = c0;
    int e = 0;
    for (; e + 64 <= m; e += 64) {
        c0 = _mm512_mask_sub_epi32(c0, _mm512_cmpge_epi32_mask(_mm512_loadu_si512(rank + e), vt), c0, minus_one);
        c1 = _mm512_mask_sub_epi32(c1, _mm512_cmpge_epi32_mask(_mm512_loadu_si512(rank + e + 16), vt), c1, minus_one);
        c2 = _mm512_mask_sub_epi32(c2, _mm512_cmpge_epi32_mask(_mm512_loadu_si512(rank + e + 32), vt), c2, minus_one);
        c3 = _mm512_mask_sub_epi32(c3, _mm512_cmpge_epi32_mask(_mm512_loadu_si512(rank + e + 48), vt), c3, minus_one);
    }
    for (; e < m; e += 16) {
        const __mmask16 lanes = m - e >= 16 ? static_cast<__mmask16>(0xFFFF) : tail_mask(m - e);
        c0 = _mm512_mask_sub_epi32(c0, _mm512_mask_cmpge_epi32_mask(lanes, _mm512_maskz_loadu_epi32(lanes, rank + e), vt),
                                   c0, minus_one);
    }
    return _mm512_reduce_add_epi32(_mm512_add_epi32(_mm512_add_epi32(c0, c1), _mm512_add_epi32(c2, c3)));
}

SPARSIFINER_AVX512 int compact_avx512(const int32_t* rank, const int32_t* index, int m, int32_t lo, int32_t hi,
                                      int32_t* out_rank, int32_t* out_index) {
    const __m512i vlo = _mm512_set1_epi32(lo), vhi = _mm512_set1_epi32(hi), sixteen = _mm512_set1_epi32(16);
    __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    int written = 0;
    for (int e = 0; e < m; e += 16) {
        const __mmask16 lanes = m - e >= 16 ? static_cast<__mmask16>(0xFFFF) : tail_mask(m - e);
        const __m512i r = _mm512_maskz_loadu_epi32(lanes, rank + e);
        const __m512i ix = index ? _mm512_maskz_loadu_epi32(lanes, index + e) : iota;
        const __mmask16 inside = _mm512_mask_cmpge_epi32_mask(lanes, r, vlo) & _mm512_cmple_epi32_mask(r, vhi);
        _mm512_storeu_si512(out_rank + written, _mm512_maskz_compress_epi32(inside, r));
        _mm512_storeu_si512(out_index + written, _mm512_maskz_compress_epi32(inside, ix));
        written += __builtin_popcount(inside);
        iota = _mm512_add_epi32(iota, sixteen);
    }
    return written;
}

// Exactly k lanes qualify over the row, so a store masked to the packed count never passes out[k].
SPARSIFINER_AVX512 int write_selected_avx512(const int32_t* ranks, int n, int32_t kth_rank, int last_index, int k,
                                             int32_t* out) {
    const __m512i vkth = _mm512_set1_epi32(kth_rank), vlast = _mm512_set1_epi32(last_index);
    const __m512i sixteen = _mm512_set1_epi32(16);
    __m512i index = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    int written = 0;
    for (int i = 0; i < n && written < k; i += 16) {
        const __mmask16 lanes = n - i >= 16 ? static_cast<__mmask16>(0xFFFF) : tail_mask(n - i);
        const __m512i r = _mm512_maskz_loadu_epi32(lanes, ranks + i);
        const __mmask16 in = _mm512_mask_cmpgt_epi32_mask(lanes, r, vkth) |
                             (_mm512_mask_cmpeq_epi32_mask(lanes, r, vkth) & _mm512_cmple_epi32_mask(index, vlast));
        const int count = __builtin_popcount(in);
        _mm512_mask_storeu_epi32(out + written, tail_mask(count), _mm512_maskz_compress_epi32(in, index));
        written += count;
        index = _mm512_add_epi32(index, sixteen);
    }
    return written;
}


// The float passes of the estimated-cut search (core/topk_estimate.cpp).

// Four sums of each kind so that the adds do not chain.
SPARSIFINER_AVX512 int moments_avx512(const float* scores, int n, int step, double* sum, double* sum_squares) {
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, q0 = s0, q1 = s0, q2 = s0, q3 = s0;
    const long long stride = 16LL * step;
    long long i = 0;
    int summed = 0;
    for (; i + 3 * stride + 16 <= n; i += 4 * stride) {
        const __m512 a = _mm512_loadu_ps(scores + i), b = _mm512_loadu_ps(scores + i + stride);
        const __m512 c = _mm512_loadu_ps(scores + i + 2 * stride), d = _mm512_loadu_ps(scores + i + 3 * stride);
        s0 = _mm512_add_ps(s0, a);
        s1 = _mm512_add_ps(s1, b);
        s2 = _mm512_add_ps(s2, c);
        s3 = _mm512_add_ps(s3, d);
        q0 = _mm512_fmadd_ps(a, a, q0);
        q1 = _mm512_fmadd_ps(b, b, q1);
        q2 = _mm512_fmadd_ps(c, c, q2);
        q3 = _mm512_fmadd_ps(d, d, q3);
        summed += 64;
    }
    for (; i < n; i += stride) {
        const int count = n - i >= 16 ? 16 : static_cast<int>(n - i);
        const __m512 a = _mm512_maskz_loadu_ps(tail_mask(count), scores + i);
        s0 = _mm512_add_ps(s0, a);
        q0 = _mm512_fmadd_ps(a, a, q0);
        summed += count;
    }
    *sum = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
    *sum_squares = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(q0, q1), _mm512_add_ps(q2, q3)));
    return summed;
}

// Counts in vector lanes (a true compare subtracts -1), four accumulators, no mask moves.
SPARSIFINER_AVX512 int count_at_least_f_avx512(const float* values, int m, float t) {
    const __m512 vt = _mm512_set1_ps(t);
    const __m512i minus_one = _mm512_set1_epi32(-1);
    __m512i c0 = _mm512_setzero_si512(), c1 = c0, c2 = c0, c3 = c0;
    int e = 0;
    for (; e + 64 <= m; e += 64) {
        c0 = _mm512_mask_sub_epi32(c0, _mm512_cmp_ps_mask(_mm512_loadu_ps(values + e), vt, _CMP_GE_OQ), c0, minus_one);
        c1 = _mm512_mask_sub_epi32(c1, _mm512_cmp_ps_mask(_mm512_loadu_ps(values + e + 16), vt, _CMP_GE_OQ), c1, minus_one);
        c2 = _mm512_mask_sub_epi32(c2, _mm512_cmp_ps_mask(_mm512_loadu_ps(values + e + 32), vt, _CMP_GE_OQ), c2, minus_one);
        c3 = _mm512_mask_sub_epi32(c3, _mm512_cmp_ps_mask(_mm512_loadu_ps(values + e + 48), vt, _CMP_GE_OQ), c3, minus_one);
    }
    for (; e < m; e += 16) {
        const __mmask16 lanes = m - e >= 16 ? static_cast<__mmask16>(0xFFFF) : tail_mask(m - e);
        c0 = _mm512_mask_sub_epi32(c0, _mm512_mask_cmp_ps_mask(lanes, _mm512_maskz_loadu_ps(lanes, values + e), vt, _CMP_GE_OQ),
                                   c0, minus_one);
    }
    return _mm512_reduce_add_epi32(_mm512_add_epi32(_mm512_add_epi32(c0, c1), _mm512_add_epi32(c2, c3)));
}

// The band of a long row (index nullptr) in two steps, because vpcompressd is slow on Zen 4 (about
// 1.5 ns per vector, two per vector here) and the band is small (a few dozen entries of the
// row): first one 16-bit mask per vector, with no packing, then the set lanes of just the vectors
// that have any, one at a time (at N = 4097 the pass took 557 ns, now 247; at 577 packing is
// still a little faster, the scalar part's branches costing what the packing saves).
constexpr int kTwoStepBand = 1024;
SPARSIFINER_AVX512 int band_row_avx512(const float* values, int m, float lo, float hi, float* out_value,
                                       int32_t* out_index, int* at_hi) {
    constexpr int kMaxVectors = 1024;  // rows of up to 16384 entries (longer ones: packing below)
    alignas(64) uint16_t masks[kMaxVectors + 32];
    const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
    const __m512i minus_one = _mm512_set1_epi32(-1);
    __m512i high_count = _mm512_setzero_si512();
    const int vectors = (m + 15) / 16, full = m / 16;
    for (int v = 0; v < full; v++) {
        const __m512 x = _mm512_loadu_ps(values + 16 * v);
        const __mmask16 high = _mm512_cmp_ps_mask(x, vhi, _CMP_GE_OQ);
        high_count = _mm512_mask_sub_epi32(high_count, high, high_count, minus_one);
        masks[v] = _mm512_cmp_ps_mask(x, vlo, _CMP_GE_OQ) & static_cast<__mmask16>(~high);
    }
    if (full < vectors) {
        const __mmask16 lanes = tail_mask(m - 16 * full);
        const __m512 x = _mm512_maskz_loadu_ps(lanes, values + 16 * full);
        const __mmask16 high = _mm512_mask_cmp_ps_mask(lanes, x, vhi, _CMP_GE_OQ);
        high_count = _mm512_mask_sub_epi32(high_count, high, high_count, minus_one);
        masks[full] = _mm512_mask_cmp_ps_mask(lanes, x, vlo, _CMP_GE_OQ) & static_cast<__mmask16>(~high);
    }
    for (int v = vectors; v < vectors + 32; v++) masks[v] = 0;
    // Thirty-two masks per compare find the vectors with a lane in the band; each is packed.
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    int written = 0;
    for (int base = 0; base < vectors; base += 32) {
        const __m512i chunk = _mm512_load_si512(masks + base);
        for (uint32_t any = _mm512_test_epi16_mask(chunk, chunk); any; any &= any - 1) {
            const int v = base + __builtin_ctz(any);
            const __mmask16 in = masks[v];
            const __m512i index = _mm512_add_epi32(_mm512_set1_epi32(16 * v), iota);
            _mm512_storeu_ps(out_value + written, _mm512_maskz_compress_ps(in, _mm512_maskz_loadu_ps(in, values + 16 * v)));
            _mm512_storeu_si512(out_index + written, _mm512_maskz_compress_epi32(in, index));
            written += __builtin_popcount(in);
        }
    }
    *at_hi = _mm512_reduce_add_epi32(high_count);
    return written;
}

// Whole-vector stores of the packed lanes (out has 16 entries of room past the count), also for
// vectors with no lane in the band: a branch on that mispredicts on every few vectors of a real
// row (0.48 -> 0.35 us per row at N = 577 without it).
SPARSIFINER_AVX512 int band_f_avx512(const float* values, const int32_t* index, int m, float lo, float hi,
                                     float* out_value, int32_t* out_index, int* at_hi) {
    if (!index && m >= kTwoStepBand && m <= 16 * 1024) return band_row_avx512(values, m, lo, hi, out_value, out_index, at_hi);
    const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
    const __m512i minus_one = _mm512_set1_epi32(-1), sixteen = _mm512_set1_epi32(16);
    __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m512i high_count = _mm512_setzero_si512();
    int written = 0;
    for (int e = 0; e < m; e += 16) {
        const __mmask16 lanes = m - e >= 16 ? static_cast<__mmask16>(0xFFFF) : tail_mask(m - e);
        const __m512 v = _mm512_maskz_loadu_ps(lanes, values + e);
        const __mmask16 high = _mm512_mask_cmp_ps_mask(lanes, v, vhi, _CMP_GE_OQ);
        const __mmask16 in = _mm512_mask_cmp_ps_mask(lanes, v, vlo, _CMP_GE_OQ) & static_cast<__mmask16>(~high);
        high_count = _mm512_mask_sub_epi32(high_count, high, high_count, minus_one);
        const __m512i ix = index ? _mm512_maskz_loadu_epi32(lanes, index + e) : iota;
        _mm512_storeu_ps(out_value + written, _mm512_maskz_compress_ps(in, v));
        _mm512_storeu_si512(out_index + written, _mm512_maskz_compress_epi32(in, ix));
        written += __builtin_popcount(in);
        iota = _mm512_add_epi32(iota, sixteen);
    }
    *at_hi = _mm512_reduce_add_epi32(high_count);
    return written;
}

SPARSIFINER_AVX512 void min_max_f_avx512(const float* values, int m, float* low, float* high) {
    __m512 lo = _mm512_set1_ps(values[0]), hi = lo;
    for (int e = 0; e < m; e += 16) {
        const __mmask16 lanes = m - e >= 16 ? static_cast<__mmask16>(0xFFFF) : tail_mask(m - e);
        const __m512 v = _mm512_maskz_loadu_ps(lanes, values + e);
        lo = _mm512_mask_min_ps(lo, lanes, lo, v);
        hi = _mm512_mask_max_ps(hi, lanes, hi, v);
    }
    *low = _mm512_reduce_min_ps(lo);
    *high = _mm512_reduce_max_ps(hi);
}

// Whole-vector stores while a full vector still fits below out[k], masked ones after. When every
// entry equal to kth is selected (last_index == INT32_MAX, the usual case), one compare.
template <bool kAllTiesIn>
SPARSIFINER_AVX512 inline __mmask16 selected_lanes(__mmask16 lanes, __m512 v, __m512 kth, __m512i index, __m512i last) {
    if (kAllTiesIn) return _mm512_mask_cmp_ps_mask(lanes, v, kth, _CMP_GE_OQ);
    return _mm512_mask_cmp_ps_mask(lanes, v, kth, _CMP_GT_OQ) |
           (_mm512_mask_cmp_ps_mask(lanes, v, kth, _CMP_EQ_OQ) & _mm512_cmple_epi32_mask(index, last));
}

template <bool kAllTiesIn>
SPARSIFINER_AVX512 int write_selected_f_avx512_impl(const float* scores, int n, float kth, int last_index, int k,
                                                    int32_t* out) {
    const __m512 vkth = _mm512_set1_ps(kth);
    const __m512i vlast = _mm512_set1_epi32(last_index), sixteen = _mm512_set1_epi32(16);
    const __mmask16 all = static_cast<__mmask16>(0xFFFF);
    __m512i index = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    int written = 0, i = 0;
    // Whole vectors while a whole-vector store stays below out[k].
    for (; i + 16 <= n && written + 16 <= k; i += 16) {
        const __mmask16 in = selected_lanes<kAllTiesIn>(all, _mm512_loadu_ps(scores + i), vkth, index, vlast);
        _mm512_storeu_si512(out + written, _mm512_maskz_compress_epi32(in, index));
        written += __builtin_popcount(in);
        index = _mm512_add_epi32(index, sixteen);
    }
    for (; i < n && written < k; i += 16) {
        const __mmask16 lanes = n - i >= 16 ? all : tail_mask(n - i);
        const __mmask16 in = selected_lanes<kAllTiesIn>(lanes, _mm512_maskz_loadu_ps(lanes, scores + i), vkth, index, vlast);
        _mm512_mask_storeu_epi32(out + written, tail_mask(__builtin_popcount(in)), _mm512_maskz_compress_epi32(in, index));
        written += __builtin_popcount(in);
        index = _mm512_add_epi32(index, sixteen);
    }
    return written;
}

SPARSIFINER_AVX512 int write_selected_f_avx512(const float* scores, int n, float kth, int last_index, int k,
                                               int32_t* out) {
    return last_index == INT32_MAX ? write_selected_f_avx512_impl<true>(scores, n, kth, last_index, k, out)
                                   : write_selected_f_avx512_impl<false>(scores, n, kth, last_index, k, out);
}

// A few winners (k <= 16, the predictor's top-8 of its coefficients): no search at all.
// 1. The k-th largest of the sixteen lane maxima is a floor: sixteen distinct entries reach it,
//    so at least k entries of the row do, and every entry of the top k is at or above it.
// 2. The entries at or above the floor (a dozen or two on real rows) are packed, in index order.
// 3. A candidate is in the top k exactly when fewer than k candidates beat it (a higher rank, or
//    the same rank at a lower index, which in index order means an earlier position); the winners
//    come out in index order, which is the order the output wants.
// Returns -1 when more than kSmallCandidates entries reach the floor (rows full of ties): the
// caller then runs the general path.
constexpr int kSmallCandidates = 64;

SPARSIFINER_AVX512 int select_small_avx512(const float* scores, int n, int k, int32_t* out) {
    const __m512i iota16 = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m512i lane_max = _mm512_set1_epi32(INT32_MIN);
    for (int i = 0; i < n; i += 16) {
        const __mmask16 lanes = n - i >= 16 ? static_cast<__mmask16>(0xFFFF) : tail_mask(n - i);
        lane_max = _mm512_mask_max_epi32(lane_max, lanes, lane_max, ranks16(_mm512_maskz_loadu_epi32(lanes, scores + i)));
    }
    alignas(64) int32_t maxima[16];
    _mm512_store_si512(maxima, lane_max);
    int32_t floor = INT32_MIN;
    for (int j = 0; j < 16; j++)
        if (__builtin_popcount(_mm512_cmpge_epi32_mask(lane_max, _mm512_set1_epi32(maxima[j]))) >= k &&
            maxima[j] > floor)
            floor = maxima[j];
    const __m512i vfloor = _mm512_set1_epi32(floor);
    alignas(64) int32_t cand_rank[kSmallCandidates + 16], cand_index[kSmallCandidates + 16];
    int c = 0;
    __m512i iota = iota16;
    for (int i = 0; i < n; i += 16) {
        const __mmask16 lanes = n - i >= 16 ? static_cast<__mmask16>(0xFFFF) : tail_mask(n - i);
        const __m512i r = ranks16(_mm512_maskz_loadu_epi32(lanes, scores + i));
        const __mmask16 reach = _mm512_mask_cmpge_epi32_mask(lanes, r, vfloor);
        if (reach) {
            if (c + __builtin_popcount(reach) > kSmallCandidates) return -1;
            _mm512_storeu_si512(cand_rank + c, _mm512_maskz_compress_epi32(reach, r));
            _mm512_storeu_si512(cand_index + c, _mm512_maskz_compress_epi32(reach, iota));
            c += __builtin_popcount(reach);
        }
        iota = _mm512_add_epi32(iota, _mm512_set1_epi32(16));
    }
    int written = 0;
    for (int j = 0; j < c && written < k; j++) {
        const __m512i rj = _mm512_set1_epi32(cand_rank[j]);
        int beaten_by = 0;
        for (int v = 0; v < c; v += 16) {
            const __mmask16 lanes = c - v >= 16 ? static_cast<__mmask16>(0xFFFF) : tail_mask(c - v);
            const __m512i cv = _mm512_load_si512(cand_rank + v);
            // Earlier positions (lower indices) win ties: lanes v + l < j.
            const int earlier = j - v <= 0 ? 0 : j - v >= 16 ? 16 : j - v;
            const __mmask16 before = earlier >= 16 ? static_cast<__mmask16>(0xFFFF) : tail_mask(earlier);
            const __mmask16 beats = _mm512_mask_cmpgt_epi32_mask(lanes, cv, rj) |
                                    (_mm512_mask_cmpeq_epi32_mask(lanes, cv, rj) & before);
            beaten_by += __builtin_popcount(beats);
        }
        if (beaten_by < k) out[written++] = cand_index[j];
    }
    return written;
}

SPARSIFINER_AVX512 int kth_in_band_avx512(const float* value, const int32_t* index, int m, int needed, float* kth,
                                          bool* ties_after) {
    constexpr int kVectors = kKthInBandMax / 16;
    __m512 v[kVectors];
    __mmask16 lanes[kVectors];
    __mmask16 minus_inf = 0;
    for (int g = 0; g < kVectors; g++) {
        const int left = m - 16 * g;
        lanes[g] = left >= 16 ? static_cast<__mmask16>(0xFFFF) : left > 0 ? tail_mask(left) : 0;
        v[g] = _mm512_maskz_loadu_ps(lanes[g], value + 16 * g);
        minus_inf |= _mm512_mask_cmp_ps_mask(lanes[g], v[g], _mm512_set1_ps(-INFINITY), _CMP_EQ_OQ);
    }
    if (minus_inf) return -1;
    const int vectors = (m + 15) / 16;
    for (int j = 0; j < m; j++) {
        const __m512 vj = _mm512_set1_ps(value[j]);
        int ahead = 0;
        for (int g = 0; g < vectors; g++) {
            // Earlier positions (lanes 16 g + l < j) win ties.
            const int earlier = j - 16 * g;
            const __mmask16 before = earlier >= 16 ? static_cast<__mmask16>(0xFFFF) : earlier > 0 ? tail_mask(earlier) : 0;
            ahead += __builtin_popcount(_mm512_mask_cmp_ps_mask(lanes[g], v[g], vj, _CMP_GT_OQ) |
                                        _mm512_mask_cmp_ps_mask(before, v[g], vj, _CMP_EQ_OQ));
        }
        if (ahead != needed - 1) continue;
        bool later = false;
        for (int g = 0; g < vectors; g++) {
            const int upto = j + 1 - 16 * g;  // lanes 16 g + l > j
            const __mmask16 after = upto <= 0 ? lanes[g] : upto >= 16 ? 0 : static_cast<__mmask16>(lanes[g] & ~tail_mask(upto));
            later |= _mm512_mask_cmp_ps_mask(after, v[g], vj, _CMP_EQ_OQ) != 0;
        }
        *kth = value[j];
        *ties_after = later;
        return index[j];
    }
    return -1;  // unreachable when the counts that made the band hold
}

}  // namespace

const TopkKernels& topk_kernels_avx512() {
    static const TopkKernels kernels = {rank_row_avx512,         rank_sample_avx512,      rank_band_avx512,
                                        count_at_least_avx512,   compact_avx512,          write_selected_avx512,
                                        moments_avx512,          count_at_least_f_avx512, band_f_avx512,
                                        min_max_f_avx512,        write_selected_f_avx512, select_small_avx512,
                                        kth_in_band_avx512};
    return kernels;
}

}  // namespace sparsifiner
