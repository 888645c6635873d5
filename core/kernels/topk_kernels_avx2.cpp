// AVX2 kernels of the key top-k (core/topk_kernels.h): eight ranks per compare; the copying passes
// pack the selected lanes with one permutation from a table and advance by the count, with no
// branch on the data. Compiled with per-function target attributes, called only on AVX2 CPUs.
#include <immintrin.h>

#include <climits>
#include <cmath>

#include "core/kernels/topk_kernels.h"
#include "core/kernels/topk_ranks.h"

#define SPARSIFINER_AVX2 __attribute__((target("avx2")))

namespace sparsifiner {

namespace {

// Lane permutations that move the set lanes of an 8-bit mask to the front, in order.
struct PackTable {
    alignas(32) int32_t lanes[256][8];
    PackTable() {
        for (int mask = 0; mask < 256; mask++) {
            int n = 0;
            for (int lane = 0; lane < 8; lane++)
                if (mask & (1 << lane)) lanes[mask][n++] = lane;
            for (; n < 8; n++) lanes[mask][n] = 0;
        }
    }
};
const PackTable pack_table;

SPARSIFINER_AVX2 inline __m256i pack_perm(unsigned mask) {
    return _mm256_load_si256(reinterpret_cast<const __m256i*>(pack_table.lanes[mask]));
}

SPARSIFINER_AVX2 inline int horizontal_sum(__m256i v) {
    alignas(32) int32_t lanes[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), v);
    int sum = 0;
    for (int lane = 0; lane < 8; lane++) sum += lanes[lane];
    return sum;
}

SPARSIFINER_AVX2 void rank_row_avx2(const float* scores, int n, int32_t* ranks, int32_t* low, int32_t* high) {
    __m256i lo = _mm256_set1_epi32(INT32_MAX), hi = _mm256_set1_epi32(INT32_MIN);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256i r = ranks8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(scores + i)));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(ranks + i), r);
        lo = _mm256_min_epi32(lo, r);
        hi = _mm256_max_epi32(hi, r);
    }
    alignas(32) int32_t lo_lanes[8], hi_lanes[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lo_lanes), lo);
    _mm256_store_si256(reinterpret_cast<__m256i*>(hi_lanes), hi);
    int32_t l = INT32_MAX, h = INT32_MIN;
    for (int lane = 0; lane < 8; lane++) {
        l = lo_lanes[lane] < l ? lo_lanes[lane] : l;
        h = hi_lanes[lane] > h ? hi_lanes[lane] : h;
    }
    for (; i < n; i++) {
        ranks[i] = topk_float_rank(scores[i]);
        l = ranks[i] < l ? ranks[i] : l;
        h = ranks[i] > h ? ranks[i] : h;
    }
    *low = l;
    *high = h;
}

SPARSIFINER_AVX2 void rank_sample_avx2(const float* scores, int stride, int count, int32_t* ranks, int32_t* low,
                                      int32_t* high) {
    const __m256i offsets = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(stride));
    int e = 0;
    for (; e + 8 <= count; e += 8) {
        const __m256i bits = _mm256_i32gather_epi32(reinterpret_cast<const int*>(scores) + static_cast<long long>(e) * stride,
                                                    offsets, 4);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(ranks + e), ranks8(bits));
    }
    for (; e < count; e++) ranks[e] = topk_float_rank(scores[static_cast<long long>(e) * stride]);
    int32_t lo = INT32_MAX, hi = INT32_MIN;
    for (e = 0; e < count; e++) {
        lo = ranks[e] < lo ? ranks[e] : lo;
        hi = ranks[e] > hi ? ranks[e] : hi;
    }
    *low = lo;
    *high = hi;
}

// Eight ranks per step, with no branch on the data: the packed lanes are stored whether or not
// any lane is in the band (a branch on it would mispredict often), and the write position
// advances by the count.
SPARSIFINER_AVX2 int rank_band_avx2(const float* scores, int n, int32_t lo, int32_t hi, int32_t* ranks,
                                    int32_t* out_rank, int32_t* out_index, int* above) {
    const __m256i vlo = _mm256_set1_epi32(lo), vhi = _mm256_set1_epi32(hi), eight = _mm256_set1_epi32(8);
    __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i above_lanes = _mm256_setzero_si256();  // minus the per-lane count (a true lane is -1)
    int written = 0, i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256i r = ranks8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(scores + i)));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(ranks + i), r);
        const __m256i is_above = _mm256_cmpgt_epi32(r, vhi);
        above_lanes = _mm256_add_epi32(above_lanes, is_above);
        const __m256i outside = _mm256_or_si256(_mm256_cmpgt_epi32(vlo, r), is_above);
        const unsigned mask = ~static_cast<unsigned>(_mm256_movemask_ps(_mm256_castsi256_ps(outside))) & 0xFFu;
        const __m256i perm = pack_perm(mask);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out_rank + written), _mm256_permutevar8x32_epi32(r, perm));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out_index + written), _mm256_permutevar8x32_epi32(iota, perm));
        written += __builtin_popcount(mask);
        iota = _mm256_add_epi32(iota, eight);
    }
    int count_above = -horizontal_sum(above_lanes);
    for (; i < n; i++) {
        const int32_t rank = topk_float_rank(scores[i]);
        ranks[i] = rank;
        out_rank[written] = rank;
        out_index[written] = i;
        written += rank >= lo && rank <= hi;
        count_above += rank > hi;
    }
    *above = count_above;
    return written;
}

SPARSIFINER_AVX2 int count_at_least_avx2(const int32_t* rank, int m, int32_t t) {
    const __m256i below = _mm256_set1_epi32(t - 1);  // r >= t  <=>  r > t - 1 (t > INT32_MIN here)
    __m256i c0 = _mm256_setzero_si256(), c1 = _mm256_setzero_si256();
    int e = 0;
    for (; e + 16 <= m; e += 16) {
        c0 = _mm256_sub_epi32(c0, _mm256_cmpgt_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(rank + e)), below));
        c1 = _mm256_sub_epi32(c1, _mm256_cmpgt_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(rank + e + 8)), below));
    }
    int count = horizontal_sum(_mm256_add_epi32(c0, c1));
    for (; e < m; e++) count += rank[e] >= t;
    return count;
}

SPARSIFINER_AVX2 int compact_avx2(const int32_t* rank, const int32_t* index, int m, int32_t lo, int32_t hi,
                                  int32_t* out_rank, int32_t* out_index) {
    const __m256i vlo = _mm256_set1_epi32(lo), vhi = _mm256_set1_epi32(hi), eight = _mm256_set1_epi32(8);
    __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    int written = 0, e = 0;
    for (; e + 8 <= m; e += 8) {
        const __m256i r = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rank + e));
        const __m256i ix = index ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(index + e)) : iota;
        const __m256i outside = _mm256_or_si256(_mm256_cmpgt_epi32(vlo, r), _mm256_cmpgt_epi32(r, vhi));
        const unsigned mask = ~static_cast<unsigned>(_mm256_movemask_ps(_mm256_castsi256_ps(outside))) & 0xFFu;
        const __m256i perm = pack_perm(mask);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out_rank + written), _mm256_permutevar8x32_epi32(r, perm));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out_index + written), _mm256_permutevar8x32_epi32(ix, perm));
        written += __builtin_popcount(mask);
        iota = _mm256_add_epi32(iota, eight);
    }
    for (; e < m; e++) {
        out_rank[written] = rank[e];
        out_index[written] = index ? index[e] : e;
        written += rank[e] >= lo && rank[e] <= hi;
    }
    return written;
}

SPARSIFINER_AVX2 int write_selected_avx2(const int32_t* ranks, int n, int32_t kth_rank, int last_index, int k,
                                         int32_t* out) {
    const __m256i vkth = _mm256_set1_epi32(kth_rank), vlast = _mm256_set1_epi32(last_index);
    const __m256i eight = _mm256_set1_epi32(8);
    __m256i index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    int written = 0, i = 0;
    // A full 8-lane store may run up to 7 entries past the packed ones: only while they stay < k.
    for (; i + 8 <= n && written + 8 <= k; i += 8) {
        const __m256i r = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ranks + i));
        const __m256i above = _mm256_cmpgt_epi32(r, vkth);
        const __m256i tie_in = _mm256_andnot_si256(_mm256_cmpgt_epi32(index, vlast), _mm256_cmpeq_epi32(r, vkth));
        const unsigned mask =
            static_cast<unsigned>(_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_or_si256(above, tie_in))));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + written), _mm256_permutevar8x32_epi32(index, pack_perm(mask)));
        written += __builtin_popcount(mask);
        index = _mm256_add_epi32(index, eight);
    }
    for (; i < n && written < k; i++) {
        out[written] = i;
        written += ranks[i] > kth_rank || (ranks[i] == kth_rank && i <= last_index);
    }
    return written;
}

// The float passes of the estimated-cut search (core/topk_estimate.cpp).

SPARSIFINER_AVX2 inline float horizontal_sum_ps(__m256 v) {
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, v);
    float sum = 0;
    for (int lane = 0; lane < 8; lane++) sum += lanes[lane];
    return sum;
}

// Four sums of each kind so that the adds do not chain; a group of 16 is two vectors.
SPARSIFINER_AVX2 int moments_avx2(const float* scores, int n, int step, double* sum, double* sum_squares) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, q0 = s0, q1 = s0, q2 = s0, q3 = s0;
    const long long stride = 16LL * step;
    long long i = 0;
    int summed = 0;
    for (; i + stride + 16 <= n; i += 2 * stride) {
        const __m256 a = _mm256_loadu_ps(scores + i), b = _mm256_loadu_ps(scores + i + 8);
        const __m256 c = _mm256_loadu_ps(scores + i + stride), d = _mm256_loadu_ps(scores + i + stride + 8);
        s0 = _mm256_add_ps(s0, a);
        s1 = _mm256_add_ps(s1, b);
        s2 = _mm256_add_ps(s2, c);
        s3 = _mm256_add_ps(s3, d);
        q0 = _mm256_add_ps(q0, _mm256_mul_ps(a, a));
        q1 = _mm256_add_ps(q1, _mm256_mul_ps(b, b));
        q2 = _mm256_add_ps(q2, _mm256_mul_ps(c, c));
        q3 = _mm256_add_ps(q3, _mm256_mul_ps(d, d));
        summed += 32;
    }
    float s = horizontal_sum_ps(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    float q = horizontal_sum_ps(_mm256_add_ps(_mm256_add_ps(q0, q1), _mm256_add_ps(q2, q3)));
    for (; i < n; i += stride)
        for (long long e = i; e < i + 16 && e < n; e++) {
            s += scores[e];
            q += scores[e] * scores[e];
            summed++;
        }
    *sum = s;
    *sum_squares = q;
    return summed;
}

SPARSIFINER_AVX2 int count_at_least_f_avx2(const float* values, int m, float t) {
    const __m256 vt = _mm256_set1_ps(t);
    __m256i c0 = _mm256_setzero_si256(), c1 = c0;  // minus the per-lane counts (a true lane is -1)
    int e = 0;
    for (; e + 16 <= m; e += 16) {
        c0 = _mm256_add_epi32(c0, _mm256_castps_si256(_mm256_cmp_ps(_mm256_loadu_ps(values + e), vt, _CMP_GE_OQ)));
        c1 = _mm256_add_epi32(c1, _mm256_castps_si256(_mm256_cmp_ps(_mm256_loadu_ps(values + e + 8), vt, _CMP_GE_OQ)));
    }
    int count = -horizontal_sum(_mm256_add_epi32(c0, c1));
    for (; e < m; e++) count += values[e] >= t;
    return count;
}

SPARSIFINER_AVX2 int band_f_avx2(const float* values, const int32_t* index, int m, float lo, float hi,
                                 float* out_value, int32_t* out_index, int* at_hi) {
    const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    const __m256i eight = _mm256_set1_epi32(8);
    __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i high_count = _mm256_setzero_si256();  // minus the per-lane counts
    int written = 0, e = 0;
    for (; e + 8 <= m; e += 8) {
        const __m256 v = _mm256_loadu_ps(values + e);
        const __m256 high = _mm256_cmp_ps(v, vhi, _CMP_GE_OQ);
        high_count = _mm256_add_epi32(high_count, _mm256_castps_si256(high));
        const unsigned in = static_cast<unsigned>(_mm256_movemask_ps(_mm256_andnot_ps(high, _mm256_cmp_ps(v, vlo, _CMP_GE_OQ))));
        const __m256i ix = index ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(index + e)) : iota;
        const __m256i perm = pack_perm(in);
        _mm256_storeu_ps(out_value + written, _mm256_permutevar8x32_ps(v, perm));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out_index + written), _mm256_permutevar8x32_epi32(ix, perm));
        written += __builtin_popcount(in);
        iota = _mm256_add_epi32(iota, eight);
    }
    int count_hi = -horizontal_sum(high_count);
    for (; e < m; e++) {
        const float v = values[e];
        const int32_t ix = index ? index[e] : e;
        count_hi += v >= hi;
        if (v >= lo && v < hi) {
            out_value[written] = v;
            out_index[written] = ix;
            written++;
        }
    }
    *at_hi = count_hi;
    return written;
}

SPARSIFINER_AVX2 void min_max_f_avx2(const float* values, int m, float* low, float* high) {
    __m256 lo = _mm256_set1_ps(values[0]), hi = lo;
    int e = 0;
    for (; e + 8 <= m; e += 8) {
        const __m256 v = _mm256_loadu_ps(values + e);
        lo = _mm256_min_ps(lo, v);
        hi = _mm256_max_ps(hi, v);
    }
    alignas(32) float lo_lanes[8], hi_lanes[8];
    _mm256_store_ps(lo_lanes, lo);
    _mm256_store_ps(hi_lanes, hi);
    float l = lo_lanes[0], h = hi_lanes[0];
    for (int lane = 1; lane < 8; lane++) {
        l = lo_lanes[lane] < l ? lo_lanes[lane] : l;
        h = hi_lanes[lane] > h ? hi_lanes[lane] : h;
    }
    for (; e < m; e++) {
        l = values[e] < l ? values[e] : l;
        h = values[e] > h ? values[e] : h;
    }
    *low = l;
    *high = h;
}

SPARSIFINER_AVX2 int write_selected_f_avx2(const float* scores, int n, float kth, int last_index, int k,
                                           int32_t* out) {
    const __m256 vkth = _mm256_set1_ps(kth);
    const __m256i vlast = _mm256_set1_epi32(last_index), eight = _mm256_set1_epi32(8);
    __m256i index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    int written = 0, i = 0;
    // A full 8-lane store may run up to 7 entries past the packed ones: only while they stay < k.
    for (; i + 8 <= n && written + 8 <= k; i += 8) {
        const __m256 v = _mm256_loadu_ps(scores + i);
        const __m256 tie_in = _mm256_andnot_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(index, vlast)),
                                               _mm256_cmp_ps(v, vkth, _CMP_EQ_OQ));
        const unsigned mask = static_cast<unsigned>(_mm256_movemask_ps(_mm256_or_ps(_mm256_cmp_ps(v, vkth, _CMP_GT_OQ), tie_in)));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + written), _mm256_permutevar8x32_epi32(index, pack_perm(mask)));
        written += __builtin_popcount(mask);
        index = _mm256_add_epi32(index, eight);
    }
    for (; i < n && written < k; i++) {
        out[written] = i;
        written += scores[i] > kth || (scores[i] == kth && i <= last_index);
    }
    return written;
}

// Lanes [0, count) of eight set (count clamped to [0, 8]), as a movemask bit set.
inline unsigned first_lanes(int count) { return count <= 0 ? 0u : count >= 8 ? 0xFFu : (1u << count) - 1u; }

SPARSIFINER_AVX2 int kth_in_band_avx2(const float* value, const int32_t* index, int m, int needed, float* kth,
                                      bool* ties_after) {
    constexpr int kVectors = kKthInBandMax / 8;
    alignas(32) float padded[kKthInBandMax];
    for (int e = 0; e < kKthInBandMax; e++) padded[e] = e < m ? value[e] : 0.f;
    __m256 v[kVectors];
    unsigned minus_inf = 0;
    const int vectors = (m + 7) / 8;
    for (int g = 0; g < vectors; g++) {
        v[g] = _mm256_load_ps(padded + 8 * g);
        minus_inf |= static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(v[g], _mm256_set1_ps(-INFINITY), _CMP_EQ_OQ))) &
                     first_lanes(m - 8 * g);
    }
    if (minus_inf) return -1;
    for (int j = 0; j < m; j++) {
        const __m256 vj = _mm256_set1_ps(value[j]);
        int ahead = 0;
        for (int g = 0; g < vectors; g++) {
            // Earlier positions (lanes 8 g + l < j) win ties.
            const unsigned greater = static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(v[g], vj, _CMP_GT_OQ)));
            const unsigned equal = static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(v[g], vj, _CMP_EQ_OQ)));
            ahead += __builtin_popcount((greater & first_lanes(m - 8 * g)) | (equal & first_lanes(j - 8 * g)));
        }
        if (ahead != needed - 1) continue;
        bool later = false;
        for (int g = 0; g < vectors; g++) {
            const unsigned equal = static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(v[g], vj, _CMP_EQ_OQ)));
            later |= (equal & first_lanes(m - 8 * g) & ~first_lanes(j + 1 - 8 * g)) != 0;
        }
        *kth = value[j];
        *ties_after = later;
        return index[j];
    }
    return -1;  // unreachable when the counts that made the band hold
}

}  // namespace

const TopkKernels& topk_kernels_avx2() {
    static const TopkKernels kernels = {rank_row_avx2,       rank_sample_avx2,        rank_band_avx2,
                                        count_at_least_avx2, compact_avx2,            write_selected_avx2,
                                        moments_avx2,        count_at_least_f_avx2,   band_f_avx2,
                                        min_max_f_avx2,      write_selected_f_avx2,   nullptr,
                                        kth_in_band_avx2};
    return kernels;
}

}  // namespace sparsifiner
