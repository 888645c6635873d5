#pragma once
// The vector passes of the key top-k (core/topk_search.cpp), one set per instruction set: the
// portable loops (the reference), AVX2 (eight ranks per compare) and AVX-512 (sixteen, with
// compress). Every kernel works on "ranks": an order-preserving map from float to int32 (a larger
// float gives a larger integer; NaN ranks as -inf, -0.0 as +0.0 so that they tie), so that every
// comparison is an exact integer one and the search is free to interpolate without rounding
// doubts. Output arrays of the copying kernels need room for 16 entries past the copied count
// (whole vectors are stored).
#include "core/platform/isa.h"
#include <cstdint>

namespace sparsifiner {


struct TopkKernels {
    // ranks [n] of scores [n]; *low, *high: the smallest and largest rank.
    void (*rank_row)(const float* scores, int n, int32_t* ranks, int32_t* low, int32_t* high);
    // ranks [count] of scores[0], scores[stride], ... (the sample of a long row), with the
    // smallest and largest.
    void (*rank_sample)(const float* scores, int stride, int count, int32_t* ranks, int32_t* low, int32_t* high);
    // ranks [n] of scores [n], plus, in index order, the (rank, index) of the entries with rank in
    // [lo, hi]; *above: how many rank above hi. Returns the copied count.
    int (*rank_band)(const float* scores, int n, int32_t lo, int32_t hi, int32_t* ranks, int32_t* out_rank,
                     int32_t* out_index, int* above);
    // How many of rank [m] are >= t.
    int (*count_at_least)(const int32_t* rank, int m, int32_t t);
    // Copies, in order, the (rank, index) [m] with rank in [lo, hi] (index nullptr: 0..m-1).
    int (*compact)(const int32_t* rank, const int32_t* index, int m, int32_t lo, int32_t hi, int32_t* out_rank,
                   int32_t* out_index);
    // out [k] = the indices i (ascending) with ranks[i] > kth_rank, or == kth_rank and i <=
    // last_index: exactly k of them by construction. Never writes out[k] or beyond.
    int (*write_selected)(const int32_t* ranks, int n, int32_t kth_rank, int last_index, int k, int32_t* out);
    // The float passes of the estimated-cut search (core/topk_estimate.cpp), nullptr in the
    // portable set: without vector compares they lost to the rank search (4.8 against 2.8 us per
    // row at N = 577). Plain float compares order finite values exactly as ranks do, and NaN
    // (below every compare) exactly as -inf as long as the cut is finite, which that search checks.
    // Sum and sum of squares of every step-th group of 16 scores of [n] (the sample of a long
    // row; step 1: all), in float; returns how many scores were summed.
    int (*moments)(const float* scores, int n, int step, double* sum, double* sum_squares);
    // How many of values [m] are >= t.
    int (*count_at_least_f)(const float* values, int m, float t);
    // Copies, in order, the (value, index) [m] with value in [lo, hi) (index nullptr: 0..m-1) and
    // returns the count; *at_hi: how many are >= hi. out may be values / index (in place).
    int (*band_f)(const float* values, const int32_t* index, int m, float lo, float hi, float* out_value,
                  int32_t* out_index, int* at_hi);
    // The smallest and largest of values [m], m >= 1.
    void (*min_max_f)(const float* values, int m, float* low, float* high);
    // out [k] = the indices i (ascending) with scores[i] > kth, or == kth and i <= last_index:
    // exactly k of them by construction (last_index INT32_MAX: every entry equal to kth is in).
    // Never writes out[k] or beyond.
    int (*write_selected_f)(const float* scores, int n, float kth, int last_index, int k, int32_t* out);
    // Optional (nullptr: none): the top k <= 16 of scores [n] straight from the scores, out [k]
    // ascending; -1 when the row has too many ties at the top for it (the caller falls back).
    int (*select_small)(const float* scores, int n, int k, int32_t* out);
    // Set exactly when the float passes are (the estimated-cut search ends with it): among
    // m <= kKthInBandMax entries in index order (values finite or -inf, never NaN), the one with
    // exactly needed - 1 entries ahead of it (a larger value, or the same value earlier): *kth its
    // value, *ties_after whether an equal value comes later; returns its index. -1 when a value is
    // -inf (the caller falls back). Every entry is ranked by vector compares against all the
    // others: no data-dependent branch but the exit.
    int (*kth_in_band)(const float* value, const int32_t* index, int m, int needed, float* kth, bool* ties_after);
};
constexpr int kKthInBandMax = 64;

const TopkKernels& topk_kernels_portable();
const TopkKernels& topk_kernels_avx2();    // call only when cpu_has_avx2_fma()
const TopkKernels& topk_kernels_avx512();  // call only when cpu_has_avx512()

// The rank of one score, and the score of a rank (the inverse on everything but NaN and -0.0).
inline int32_t topk_float_rank(float score) {
    int32_t bits;
    __builtin_memcpy(&bits, &score, sizeof bits);
    const int32_t magnitude = bits & 0x7FFFFFFF;
    bits = magnitude > 0x7F800000 ? static_cast<int32_t>(0xFF800000u) : bits;  // NaN -> -inf
    bits = magnitude == 0 ? 0 : bits;                                          // -0 -> +0
    return bits ^ ((bits >> 31) & 0x7FFFFFFF);
}
inline float topk_rank_value(int32_t rank) {
    const int32_t bits = rank ^ ((rank >> 31) & 0x7FFFFFFF);
    float value;
    __builtin_memcpy(&value, &bits, sizeof value);
    return value;
}

// The exact top-k of scores [n] (k in [1, n - 1]) with a given kernel set: ties to the lower
// index, out [k] ascending. The search narrows the k-th largest rank by counting passes
// (core/topk_search.cpp).
int topk_search(const TopkKernels& kernels, const float* scores, int n, int k, int32_t* out);

// The same for rows of finite scores, from an estimate of the cut (core/topk_estimate.cpp): the
// row's mean and spread place the first probe, a few counting passes bracket the k-th largest
// within a band of a few dozen entries, one pass copies the band out and the cut is found among
// them. Returns -1, having written nothing, when the cut is not a finite value with finite
// neighbours (NaN or infinities at the cut) or the row defeats the search; the caller then runs
// topk_search. Only for kernel sets that have the float passes (kernels.moments set).
int topk_search_estimated(const TopkKernels& kernels, const float* scores, int n, int k, int32_t* out);

}  // namespace sparsifiner
