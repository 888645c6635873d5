#include "core/kernels/topk.h"
// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on inlined intrinsics (a known false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>

#include <immintrin.h>
#include <vector>

#include "core/platform/cpu_info.h"
#include "core/platform/thread_scratch.h"

namespace sparsifiner {

namespace {

#define SPARSIFINER_AVX2 __attribute__((target("avx2")))

// 64-bit key: rank in the high half (offset to unsigned), the complement of the index in the low
// half. Keys are distinct and "larger key" is exactly (higher score, then lower index).
inline uint64_t rank_key(int32_t rank, int index) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(rank) ^ 0x80000000u) << 32) |
           (0xFFFFFFFFu - static_cast<uint32_t>(index));
}

// For a handful of winners (the predictor keeps ~8 basis coefficients out of K), a running
// sorted list of the best keys is cheaper than narrowing: after the first few entries nearly every
// key fails the single comparison against the current k-th best. With AVX2 eight ranks are tested
// against it at once, sixteen with AVX-512 (an equal rank never enters: its index is higher than
// the list's).
constexpr int kSmallK = 16;

// Inserts key into best [count] (descending) keeping at most k entries; returns the new count.
inline int running_insert(uint64_t* best, int count, int k, uint64_t key) {
    if (count == k && key <= best[k - 1]) return count;
    int pos = count < k ? count++ : k - 1;
    while (pos > 0 && best[pos - 1] < key) {
        best[pos] = best[pos - 1];
        pos--;
    }
    best[pos] = key;
    return count;
}

SPARSIFINER_AVX2 int running_scan_avx2(const int32_t* ranks, int n, int k, uint64_t* best) {
    int count = 0, i = 0;
    for (; i < n && count < k; i++) count = running_insert(best, count, k, rank_key(ranks[i], i));
    for (; i < n && (i & 7); i++) count = running_insert(best, count, k, rank_key(ranks[i], i));
    for (; i + 8 <= n; i += 8) {
        const int32_t kth_rank = static_cast<int32_t>(static_cast<uint32_t>(best[k - 1] >> 32) ^ 0x80000000u);
        const __m256i r = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ranks + i));
        unsigned mask = static_cast<unsigned>(
            _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(r, _mm256_set1_epi32(kth_rank)))));
        while (mask) {
            const int lane = __builtin_ctz(mask);
            mask &= mask - 1;
            count = running_insert(best, count, k, rank_key(ranks[i + lane], i + lane));
        }
    }
    for (; i < n; i++) count = running_insert(best, count, k, rank_key(ranks[i], i));
    return count;
}

// With AVX-512 the list starts from a floor instead of the first k entries: the maxima of the
// sixteen lanes are sixteen distinct entries, so the k-th largest of them is at most the row's
// k-th largest, and only the entries at or above it (typically a dozen or two) are inserted, in
// index order. Rows full of ties only make more candidates, never a wrong answer.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq"))) int running_scan_avx512(const int32_t* ranks, int n,
                                                                                      int k, uint64_t* best) {
    __m512i lane_max = _mm512_set1_epi32(INT32_MIN);
    for (int i = 0; i < n; i += 16) {
        const __mmask16 lanes = n - i >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (n - i)) - 1u);
        lane_max = _mm512_mask_max_epi32(lane_max, lanes, lane_max, _mm512_maskz_loadu_epi32(lanes, ranks + i));
    }
    int32_t maxima[16];
    _mm512_storeu_si512(maxima, lane_max);
    std::nth_element(maxima, maxima + (k - 1), maxima + 16, [](int32_t a, int32_t b) { return a > b; });
    const __m512i floor = _mm512_set1_epi32(maxima[k - 1]);
    int count = 0;
    for (int i = 0; i < n; i += 16) {
        const __mmask16 lanes = n - i >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (n - i)) - 1u);
        unsigned mask = _mm512_mask_cmpge_epi32_mask(lanes, _mm512_maskz_loadu_epi32(lanes, ranks + i), floor);
        while (mask) {
            const int lane = __builtin_ctz(mask);
            mask &= mask - 1;
            count = running_insert(best, count, k, rank_key(ranks[i + lane], i + lane));
        }
    }
    return count;
}

int topk_small(const TopkKernels& kernels, const float* scores, int n, int k, int32_t* out, Isa isa) {
    if (kernels.select_small) {
        const int written = kernels.select_small(scores, n, k, out);
        if (written >= 0) return written;
    }
    int32_t* rank_buffer = reinterpret_cast<int32_t*>(thread_scratch(static_cast<size_t>(n) + 16, ScratchSlot::selection));
    int32_t lo, hi;
    kernels.rank_row(scores, n, rank_buffer, &lo, &hi);
    uint64_t best[kSmallK];  // descending
    if (isa == Isa::avx512) {
        running_scan_avx512(rank_buffer, n, k, best);
    } else if (isa == Isa::avx2) {
        running_scan_avx2(rank_buffer, n, k, best);
    } else {
        int count = 0;
        for (int i = 0; i < n; i++) count = running_insert(best, count, k, rank_key(rank_buffer[i], i));
    }
    for (int e = 0; e < k; e++) out[e] = static_cast<int32_t>(0xFFFFFFFFu - static_cast<uint32_t>(best[e]));
    std::sort(out, out + k);
    return k;
}

const TopkKernels& kernels_of(Isa isa) {
    switch (isa) {
        case Isa::avx512: return topk_kernels_avx512();
        case Isa::avx2: return topk_kernels_avx2();
        default: return topk_kernels_portable();
    }
}

}  // namespace

int topk_select_isa(Isa isa, const float* scores, int n, int k, int32_t* out) {
    if (n <= 0 || k <= 0) return 0;
    if (k >= n) {
        for (int i = 0; i < n; i++) out[i] = i;
        return n;
    }
    const TopkKernels& kernels = kernels_of(isa);
    if (k <= kSmallK) return topk_small(kernels, scores, n, k, out, isa);
    // The estimated-cut search where the kernel set has its float passes (the vector ones).
    const int written = kernels.moments ? topk_search_estimated(kernels, scores, n, k, out) : -1;
    return written >= 0 ? written : topk_search(kernels, scores, n, k, out);
}

int topk_select(const float* scores, int n, int k, int32_t* out) {
    return topk_select_isa(isa_best(), scores, n, k, out);
}

}  // namespace sparsifiner
