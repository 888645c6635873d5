#include "core/topk.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <limits>
#include <vector>

namespace sparsifiner {

namespace {

// The selection narrows a range [lo, hi] of ranks that holds the k-th largest rank by counting,
// in one vectorised pass per step, how many ranks are >= a midpoint. Counting is branch-free and
// runs at several elements per cycle, so a dozen passes over a row cost less than one pass of
// nth_element's data-dependent swaps, and no histogram needs clearing. Once few enough ranks are
// left inside the range they are sorted exactly.
constexpr long long kFinishCandidates = 32;

#define SPARSIFINER_CLONES __attribute__((target_clones("arch=haswell", "default")))

// An order-preserving map from float to int32: a larger float gives a larger integer. NaN becomes
// -inf and -0.0 becomes +0.0 (they compare equal, so they must tie). For a negative float the 31
// magnitude bits are flipped so that a larger magnitude gives a smaller integer.
SPARSIFINER_CLONES void float_ranks(const float* scores, int n, int32_t* ranks) {
    const float neg_inf = -std::numeric_limits<float>::infinity();
    for (int i = 0; i < n; i++) {
        float x = scores[i];
        x = x != x ? neg_inf : x;
        x += 0.0f;  // -0.0 + 0.0 == +0.0
        int32_t bits;
        std::memcpy(&bits, &x, sizeof bits);
        ranks[i] = bits ^ ((bits >> 31) & 0x7FFFFFFF);
    }
}

SPARSIFINER_CLONES int count_at_least(const int32_t* ranks, int n, int32_t threshold) {
    int count = 0;
    for (int i = 0; i < n; i++) count += ranks[i] >= threshold;
    return count;
}

SPARSIFINER_CLONES void rank_range(const int32_t* ranks, int n, int32_t* low, int32_t* high) {
    int32_t lo = ranks[0], hi = ranks[0];
    for (int i = 1; i < n; i++) {
        lo = std::min(lo, ranks[i]);
        hi = std::max(hi, ranks[i]);
    }
    *low = lo;
    *high = hi;
}

// 64-bit key: rank in the high half (offset to unsigned), the complement of the index in the low
// half. Keys are distinct and "larger key" is exactly (higher score, then lower index).
inline uint64_t rank_key(int32_t rank, int index) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(rank) ^ 0x80000000u) << 32) |
           (0xFFFFFFFFu - static_cast<uint32_t>(index));
}

}  // namespace

int topk_select(const float* scores, int n, int k, int32_t* out) {
    if (n <= 0 || k <= 0) return 0;
    if (k >= n) {
        for (int i = 0; i < n; i++) out[i] = i;
        return n;
    }
    thread_local std::vector<int32_t> rank_buffer;
    thread_local std::vector<uint64_t> candidates;
    if (rank_buffer.size() < static_cast<size_t>(n)) rank_buffer.resize(n);
    int32_t* ranks = rank_buffer.data();
    float_ranks(scores, n, ranks);

    // Invariant: count(rank >= lo) = at_lo >= k and count(rank > hi) = above_hi < k, so the k-th
    // largest rank lies in [lo, hi].
    int32_t lo, hi;
    rank_range(ranks, n, &lo, &hi);
    int at_lo = n, above_hi = 0;
    while (lo < hi && at_lo - above_hi > kFinishCandidates) {
        const int32_t mid = static_cast<int32_t>(lo + (static_cast<long long>(hi) - lo + 1) / 2);
        const int count = count_at_least(ranks, n, mid);
        if (count >= k) {
            lo = mid;
            at_lo = count;
        } else {
            hi = mid - 1;
            above_hi = count;
        }
    }

    // The cut: every key >= kth_key is in. The k - above_hi entries still needed come from the
    // ranks in [lo, hi]; taken in key order they give the ties to the lower index.
    const int needed = k - above_hi;
    uint64_t kth_key;
    if (lo == hi) {
        // All remaining candidates tie: the needed-th of them in index order is the last one in.
        int seen = 0, last = 0;
        for (int i = 0; i < n && seen < needed; i++)
            if (ranks[i] == lo) {
                seen++;
                last = i;
            }
        kth_key = rank_key(lo, last);
    } else {
        candidates.clear();
        for (int i = 0; i < n; i++)
            if (ranks[i] >= lo && ranks[i] <= hi) candidates.push_back(rank_key(ranks[i], i));
        std::nth_element(candidates.begin(), candidates.begin() + (needed - 1), candidates.end(),
                         std::greater<uint64_t>());
        kth_key = candidates[needed - 1];
    }
    // One pass in index order collects exactly k entries, already ascending.
    const int32_t kth_rank = static_cast<int32_t>(static_cast<uint32_t>(kth_key >> 32) ^ 0x80000000u);
    const int last_index = static_cast<int>(0xFFFFFFFFu - static_cast<uint32_t>(kth_key));
    int written = 0;
    for (int i = 0; i < n && written < k; i++) {
        out[written] = i;
        written += ranks[i] > kth_rank || (ranks[i] == kth_rank && i <= last_index);
    }
    return written;
}

}  // namespace sparsifiner
