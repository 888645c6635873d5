#include "core/kernels/topk.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include <immintrin.h>
#include <functional>
#include <limits>
#include <vector>

#include "core/platform/cpu_info.h"

namespace sparsifiner {

namespace {

// The selection narrows a range [lo, hi] of ranks that holds the k-th largest rank with
// histograms of the candidates (kBuckets buckets per step), compacting the candidates after each
// step. Once few enough are left they go through nth_element.
constexpr int kFinishCandidates = 48;
constexpr int kBuckets = 2048;

#define SPARSIFINER_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))

// An order-preserving map from float to int32: a larger float gives a larger integer. NaN becomes
// -inf and -0.0 becomes +0.0 (they compare equal, so they must tie). For a negative float the 31
// magnitude bits are flipped so that a larger magnitude gives a smaller integer. Integer-only so
// that it vectorises; also returns the smallest and largest rank.
SPARSIFINER_CLONES void float_ranks(const float* scores, int n, int32_t* ranks, int32_t* low, int32_t* high) {
    int32_t lo = INT32_MAX, hi = INT32_MIN;
    for (int i = 0; i < n; i++) {
        int32_t bits;
        std::memcpy(&bits, scores + i, sizeof bits);
        const int32_t magnitude = bits & 0x7FFFFFFF;
        bits = magnitude > 0x7F800000 ? static_cast<int32_t>(0xFF800000u) : bits;  // NaN -> -inf
        bits = magnitude == 0 ? 0 : bits;                                          // -0 -> +0
        const int32_t rank = bits ^ ((bits >> 31) & 0x7FFFFFFF);
        ranks[i] = rank;
        lo = std::min(lo, rank);
        hi = std::max(hi, rank);
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


// The two index-order passes (collect the candidates in [lo, hi]; write out the selected indices)
// test eight ranks per AVX2 compare and only go scalar on the rare lanes that matter (candidates)
// or pack the selected lanes with one permutation (output). Portable versions below.
#define SPARSIFINER_AVX2 __attribute__((target("avx2")))

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

// Copies the entries of (rank, index) [m] whose rank lies in [lo, hi], in order, to (out_rank,
// out_index); index == nullptr means 0..m-1. Returns the count. The output arrays have room for
// m + 8 entries (the vector version stores whole vectors).
int compact_portable(const int32_t* rank, const int32_t* index, int begin, int m, int32_t lo, int32_t hi,
                     int32_t* out_rank, int32_t* out_index, int written) {
    for (int i = begin; i < m; i++) {
        out_rank[written] = rank[i];
        out_index[written] = index ? index[i] : i;
        written += rank[i] >= lo && rank[i] <= hi;
    }
    return written;
}

SPARSIFINER_AVX2 int compact_avx2(const int32_t* rank, const int32_t* index, int m, int32_t lo, int32_t hi,
                                  int32_t* out_rank, int32_t* out_index) {
    const __m256i vlo = _mm256_set1_epi32(lo), vhi = _mm256_set1_epi32(hi), eight = _mm256_set1_epi32(8);
    __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    int written = 0, i = 0;
    for (; i + 8 <= m; i += 8) {
        const __m256i r = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rank + i));
        const __m256i ix = index ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(index + i)) : iota;
        // lo <= r <= hi  <=>  !(lo > r) && !(r > hi)
        const __m256i outside = _mm256_or_si256(_mm256_cmpgt_epi32(vlo, r), _mm256_cmpgt_epi32(r, vhi));
        const unsigned mask = ~static_cast<unsigned>(_mm256_movemask_ps(_mm256_castsi256_ps(outside))) & 0xFFu;
        if (mask) {
            const __m256i perm = _mm256_load_si256(reinterpret_cast<const __m256i*>(pack_table.lanes[mask]));
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(out_rank + written), _mm256_permutevar8x32_epi32(r, perm));
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(out_index + written), _mm256_permutevar8x32_epi32(ix, perm));
            written += __builtin_popcount(mask);
        }
        iota = _mm256_add_epi32(iota, eight);
    }
    return compact_portable(rank, index, i, m, lo, hi, out_rank, out_index, written);
}

// The rank of one score, as float_ranks computes it.
inline int32_t float_rank(float score) {
    int32_t bits;
    std::memcpy(&bits, &score, sizeof bits);
    const int32_t magnitude = bits & 0x7FFFFFFF;
    bits = magnitude > 0x7F800000 ? static_cast<int32_t>(0xFF800000u) : bits;
    bits = magnitude == 0 ? 0 : bits;
    return bits ^ ((bits >> 31) & 0x7FFFFFFF);
}

// The sampled first step's pass over the whole row: writes every rank to ranks [n], copies the
// (rank, index) of the entries with rank in [lo, hi], in index order, and counts the entries
// above hi. Returns the copied count. out_rank, out_index have room for n + 8 entries.
int bracket_portable(const float* scores, int begin, int n, int32_t lo, int32_t hi, int32_t* ranks,
                     int32_t* out_rank, int32_t* out_index, int written, int* above) {
    int count_above = 0;
    for (int i = begin; i < n; i++) {
        const int32_t rank = float_rank(scores[i]);
        ranks[i] = rank;
        out_rank[written] = rank;
        out_index[written] = i;
        written += rank >= lo && rank <= hi;
        count_above += rank > hi;
    }
    *above += count_above;
    return written;
}

// Eight ranks per step, with no branch on the data: the packed lanes are stored whether or not
// any lane is in the band (about one step in four has none, at random: a branch on it would
// mispredict often), and the write position advances by the count.
SPARSIFINER_AVX2 int bracket_avx2(const float* scores, int n, int32_t lo, int32_t hi, int32_t* ranks,
                                  int32_t* out_rank, int32_t* out_index, int* above) {
    const __m256i vlo = _mm256_set1_epi32(lo), vhi = _mm256_set1_epi32(hi), eight = _mm256_set1_epi32(8);
    const __m256i abs_mask = _mm256_set1_epi32(0x7FFFFFFF), inf_bits = _mm256_set1_epi32(0x7F800000);
    const __m256i minus_inf = _mm256_set1_epi32(static_cast<int32_t>(0xFF800000u)), zero = _mm256_setzero_si256();
    __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i above_lanes = zero;  // minus the per-lane count (a true compare lane is -1)
    int written = 0, i = 0;
    for (; i + 8 <= n; i += 8) {
        // float_rank on eight lanes: NaN -> -inf, -0 -> +0, negative magnitudes flipped.
        __m256i bits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(scores + i));
        const __m256i magnitude = _mm256_and_si256(bits, abs_mask);
        bits = _mm256_blendv_epi8(bits, minus_inf, _mm256_cmpgt_epi32(magnitude, inf_bits));
        bits = _mm256_andnot_si256(_mm256_cmpeq_epi32(magnitude, zero), bits);
        const __m256i r = _mm256_xor_si256(bits, _mm256_and_si256(_mm256_srai_epi32(bits, 31), abs_mask));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(ranks + i), r);
        const __m256i is_above = _mm256_cmpgt_epi32(r, vhi);
        above_lanes = _mm256_add_epi32(above_lanes, is_above);
        const __m256i outside = _mm256_or_si256(_mm256_cmpgt_epi32(vlo, r), is_above);
        const unsigned mask = ~static_cast<unsigned>(_mm256_movemask_ps(_mm256_castsi256_ps(outside))) & 0xFFu;
        const __m256i perm = _mm256_load_si256(reinterpret_cast<const __m256i*>(pack_table.lanes[mask]));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out_rank + written), _mm256_permutevar8x32_epi32(r, perm));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out_index + written), _mm256_permutevar8x32_epi32(iota, perm));
        written += __builtin_popcount(mask);
        iota = _mm256_add_epi32(iota, eight);
    }
    alignas(32) int32_t lanes[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), above_lanes);
    int count_above = 0;
    for (int lane = 0; lane < 8; lane++) count_above -= lanes[lane];
    *above = count_above;
    return bracket_portable(scores, i, n, lo, hi, ranks, out_rank, out_index, written, above);
}

// Writes the indices i (ascending) with ranks[i] > kth_rank, or == kth_rank and i <= last_index:
// exactly k of them by construction. Never writes out[k] or beyond.
int write_selected_portable(const int32_t* ranks, int begin, int n, int32_t kth_rank, int last_index, int k,
                            int written, int32_t* out) {
    for (int i = begin; i < n && written < k; i++) {
        out[written] = i;
        written += ranks[i] > kth_rank || (ranks[i] == kth_rank && i <= last_index);
    }
    return written;
}

SPARSIFINER_AVX2 int write_selected_avx2(const int32_t* ranks, int n, int32_t kth_rank, int last_index, int k,
                                         int32_t* out) {
    const __m256i vkth = _mm256_set1_epi32(kth_rank), vlast = _mm256_set1_epi32(last_index);
    __m256i index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i eight = _mm256_set1_epi32(8);
    int written = 0, i = 0;
    // A full 8-lane store may run up to 7 entries past the packed ones: only while they stay < k.
    for (; i + 8 <= n && written + 8 <= k; i += 8) {
        const __m256i r = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ranks + i));
        const __m256i above = _mm256_cmpgt_epi32(r, vkth);
        const __m256i tie_in = _mm256_andnot_si256(_mm256_cmpgt_epi32(index, vlast), _mm256_cmpeq_epi32(r, vkth));
        const __m256i in = _mm256_or_si256(above, tie_in);
        const unsigned mask = static_cast<unsigned>(_mm256_movemask_ps(_mm256_castsi256_ps(in)));
        const __m256i perm = _mm256_load_si256(reinterpret_cast<const __m256i*>(pack_table.lanes[mask]));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + written), _mm256_permutevar8x32_epi32(index, perm));
        written += __builtin_popcount(mask);
        index = _mm256_add_epi32(index, eight);
    }
    return write_selected_portable(ranks, i, n, kth_rank, last_index, k, written, out);
}

const bool use_avx2 = cpu_has_avx2_fma();

// For a handful of winners (the predictor keeps ~8 basis coefficients out of K), a running
// sorted list of the best keys is cheaper than narrowing: after the first few entries nearly every
// key fails the single comparison against the current k-th best. With AVX2 eight ranks are tested
// against it at once (an equal rank never enters: its index is higher than the list's).
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

int topk_small(const float* scores, int n, int k, int32_t* out, bool avx2) {
    thread_local std::vector<int32_t> rank_buffer;
    if (rank_buffer.size() < static_cast<size_t>(n)) rank_buffer.resize(n);
    int32_t lo, hi;
    float_ranks(scores, n, rank_buffer.data(), &lo, &hi);
    uint64_t best[kSmallK];  // descending
    if (avx2) {
        running_scan_avx2(rank_buffer.data(), n, k, best);
    } else {
        int count = 0;
        for (int i = 0; i < n; i++) count = running_insert(best, count, k, rank_key(rank_buffer[i], i));
    }
    for (int e = 0; e < k; e++) out[e] = static_cast<int32_t>(0xFFFFFFFFu - static_cast<uint32_t>(best[e]));
    std::sort(out, out + k);
    return k;
}

// Rows at least this long start with a sampled step (below, a histogram of the whole row is
// already cheap). The sample takes one rank in every `stride`, about kSampleTarget of them.
constexpr int kSampleMinRow = 512;
constexpr int kSampleTarget = 384;
constexpr int kSampleBuckets = 1024;

// The first narrowing step from a sample instead of a histogram of every rank (the histogram's
// scattered increments cost ~1 ns per entry; a vector pass a fraction of that). A histogram of
// every stride-th rank (over the sample's own range) estimates where the k-th largest sits; a
// band of buckets around it, three standard deviations of the sample count wide on each side,
// is then checked exactly by one vector pass that also writes every rank, counts those above
// the band and compacts those inside it. The result never depends on the sample: when the check
// fails (an unlucky or adversarial row) this returns false and the caller narrows from the
// whole row as before.
bool sampled_step(const float* scores, int n, int k, bool avx2, uint32_t* histogram, int32_t* ranks,
                  int32_t* out_rank, int32_t* out_index, int32_t& lo, int32_t& hi, int& m, int& above_hi) {
    int32_t sample[kSampleMinRow];
    const int stride = std::max(n / kSampleTarget, n / kSampleMinRow + 1);
    int samples = 0;
    int32_t sample_lo = INT32_MAX, sample_hi = INT32_MIN;
    for (int i = 0; i < n; i += stride) {
        const int32_t rank = float_rank(scores[i]);
        sample[samples++] = rank;
        sample_lo = std::min(sample_lo, rank);
        sample_hi = std::max(sample_hi, rank);
    }
    const uint32_t width = static_cast<uint32_t>(sample_hi) - static_cast<uint32_t>(sample_lo);
    int shift = 0;
    while ((width >> shift) >= static_cast<uint32_t>(kSampleBuckets)) shift++;
    const int buckets = static_cast<int>(width >> shift) + 1;
    // Fine buckets and, to walk the mostly empty fine ones quickly, coarse sums of 32 of them.
    uint32_t* coarse = histogram + kSampleBuckets;
    std::memset(histogram, 0, sizeof(uint32_t) * (kSampleBuckets + kSampleBuckets / 32));
    const uint32_t base = static_cast<uint32_t>(sample_lo);
    for (int e = 0; e < samples; e++) {
        const uint32_t bucket = (static_cast<uint32_t>(sample[e]) - base) >> shift;
        histogram[bucket]++;
        coarse[bucket >> 5]++;
    }
    // In the sample, about `expected` ranks lie above the k-th largest, give or take `margin`.
    // The band's top is the first bucket (from the top) that takes the count above
    // expected - margin, its bottom the one that takes it to expected + margin.
    const double fraction = static_cast<double>(k) / n;
    const double expected = fraction * samples;
    const double margin = 3.0 * std::sqrt(expected * (1.0 - fraction)) + 2.0;
    const long long top_target = static_cast<long long>(std::floor(expected - margin));
    const long long bottom_target = static_cast<long long>(std::ceil(expected + margin));
    // Walks down from `bucket` while the count including the bucket stays `below` the target
    // (<= when or_equal). Skipping a whole coarse group at once gives the same stop: the counts
    // only grow downwards.
    long long seen = 0;  // sample ranks in the buckets above `bucket`
    auto walk = [&](int bucket, long long target, bool or_equal) {
        auto passes = [&](long long count) { return or_equal ? count <= target : count < target; };
        while (bucket > 0 && (bucket & 31) != 31 && passes(seen + histogram[bucket])) seen += histogram[bucket--];
        while (bucket >= 32 && (bucket & 31) == 31 && passes(seen + coarse[bucket >> 5])) {
            seen += coarse[bucket >> 5];
            bucket -= 32;
        }
        while (bucket > 0 && passes(seen + histogram[bucket])) seen += histogram[bucket--];
        return bucket;
    };
    const int upper = walk(buckets - 1, top_target, true);
    const int lower = walk(upper, bottom_target, false);
    // The band is open-ended where it reaches the sample's extremes (ranks outside the sample's
    // range may exist).
    const int32_t band_lo = lower == 0 ? INT32_MIN : static_cast<int32_t>(base + (static_cast<uint32_t>(lower) << shift));
    const int32_t band_hi = upper == buckets - 1
                                ? INT32_MAX
                                : static_cast<int32_t>(base + (static_cast<uint32_t>(upper + 1) << shift) - 1u);
    int above = 0;
    const int inside = avx2 ? bracket_avx2(scores, n, band_lo, band_hi, ranks, out_rank, out_index, &above)
                            : bracket_portable(scores, 0, n, band_lo, band_hi, ranks, out_rank, out_index, 0, &above);
    if (!(above < k && k <= above + inside)) return false;
    lo = band_lo;
    hi = band_hi;
    m = inside;
    above_hi = above;
    return true;
}

int topk_impl(const float* scores, int n, int k, int32_t* out, bool avx2) {
    if (n <= 0 || k <= 0) return 0;
    if (k >= n) {
        for (int i = 0; i < n; i++) out[i] = i;
        return n;
    }
    if (k <= kSmallK) return topk_small(scores, n, k, out, avx2);
    // ranks [n] stays whole for the final pass; the candidates are compacted into ping-pong
    // buffers of (rank, index) as the range narrows.
    thread_local std::vector<int32_t> buffer;
    thread_local std::vector<uint64_t> keys;
    const size_t room = static_cast<size_t>(n) + 8;
    if (buffer.size() < 5 * room) buffer.resize(5 * room);
    int32_t* ranks = buffer.data();
    int32_t* pong[2][2] = {{ranks + room, ranks + 2 * room}, {ranks + 3 * room, ranks + 4 * room}};
    int32_t lo = INT32_MIN, hi = INT32_MAX;

    // Invariant: the candidate array (cur_rank, cur_index, m) holds, in index order, exactly the
    // entries whose rank lies in [lo, hi], above_hi entries rank above hi and above_hi < k <=
    // above_hi + m, so the k-th largest rank lies in [lo, hi]. Each step spreads [lo, hi] over at
    // most kBuckets equal buckets (a histogram of the candidates in one pass, no comparisons),
    // walks down from the top bucket to the one holding the k-th rank and keeps only its
    // entries. A bucket is at least 2^6 times narrower than the range, so a few steps reach
    // a single rank; on the predictor's smooth rows one step usually leaves a few dozen candidates.
    const int32_t* cur_rank = ranks;
    const int32_t* cur_index = nullptr;  // identity
    int m = n, above_hi = 0, side = 0;
    uint32_t histogram[4 * kBuckets];
    if (n >= kSampleMinRow &&
        sampled_step(scores, n, k, avx2, histogram, ranks, pong[0][0], pong[0][1], lo, hi, m, above_hi)) {
        cur_rank = pong[0][0];
        cur_index = pong[0][1];
        side = 1;
    } else {
        float_ranks(scores, n, ranks, &lo, &hi);
    }
    while (lo < hi && m > kFinishCandidates) {
        const uint32_t width = static_cast<uint32_t>(hi) - static_cast<uint32_t>(lo);
        // About one bucket per candidate (fewer buckets to clear and walk on short rows).
        int bucket_limit = 64;
        while (bucket_limit < m && bucket_limit < kBuckets) bucket_limit *= 2;
        int shift = 0;
        while ((width >> shift) >= static_cast<uint32_t>(bucket_limit)) shift++;
        const int buckets = static_cast<int>(width >> shift) + 1;
        // Four interleaved histograms: runs of equal buckets (rows concentrate in a few) would
        // otherwise chain every increment on the previous one's store.
        std::memset(histogram, 0, sizeof(uint32_t) * 4 * buckets);
        uint32_t* h0 = histogram;
        uint32_t* h1 = h0 + buckets;
        uint32_t* h2 = h1 + buckets;
        uint32_t* h3 = h2 + buckets;
        const uint32_t base = static_cast<uint32_t>(lo);
        int e = 0;
        for (; e + 4 <= m; e += 4) {
            h0[(static_cast<uint32_t>(cur_rank[e]) - base) >> shift]++;
            h1[(static_cast<uint32_t>(cur_rank[e + 1]) - base) >> shift]++;
            h2[(static_cast<uint32_t>(cur_rank[e + 2]) - base) >> shift]++;
            h3[(static_cast<uint32_t>(cur_rank[e + 3]) - base) >> shift]++;
        }
        for (; e < m; e++) h0[(static_cast<uint32_t>(cur_rank[e]) - base) >> shift]++;
        int bucket = buckets - 1;
        int above = above_hi;
        auto in_bucket = [&](int b) { return static_cast<int>(h0[b] + h1[b] + h2[b] + h3[b]); };
        while (above + in_bucket(bucket) < k) above += in_bucket(bucket--);
        const uint32_t bucket_lo = static_cast<uint32_t>(lo) + (static_cast<uint32_t>(bucket) << shift);
        const uint32_t bucket_hi = bucket_lo + ((1u << shift) - 1u);  // <= hi for every bucket but the last
        lo = static_cast<int32_t>(bucket_lo);
        hi = bucket == buckets - 1 ? hi : static_cast<int32_t>(bucket_hi);
        above_hi = above;
        int32_t* next_rank = pong[side][0];
        int32_t* next_index = pong[side][1];
        m = avx2 ? compact_avx2(cur_rank, cur_index, m, lo, hi, next_rank, next_index)
                 : compact_portable(cur_rank, cur_index, 0, m, lo, hi, next_rank, next_index, 0);
        cur_rank = next_rank;
        cur_index = next_index;
        side ^= 1;
    }

    // The cut: every key >= kth_key is in. The k - above_hi entries still needed come from the
    // candidates (ranks in [lo, hi], in index order); taken in key order they give the ties to
    // the lower index.
    const int needed = k - above_hi;
    uint64_t kth_key;
    if (lo == hi) {
        // All remaining candidates tie: the needed-th of them in index order is the last one in.
        int seen = 0, last = 0;
        for (int e = 0; e < m && seen < needed; e++)
            if (cur_rank[e] == lo) {
                seen++;
                last = cur_index ? cur_index[e] : e;
            }
        kth_key = rank_key(lo, last);
    } else {
        keys.resize(m);
        for (int e = 0; e < m; e++) keys[e] = rank_key(cur_rank[e], cur_index ? cur_index[e] : e);
        std::nth_element(keys.begin(), keys.begin() + (needed - 1), keys.end(), std::greater<uint64_t>());
        kth_key = keys[needed - 1];
    }
    // One pass in index order collects exactly k entries, already ascending.
    const int32_t kth_rank = static_cast<int32_t>(static_cast<uint32_t>(kth_key >> 32) ^ 0x80000000u);
    const int last_index = static_cast<int>(0xFFFFFFFFu - static_cast<uint32_t>(kth_key));
    return avx2 ? write_selected_avx2(ranks, n, kth_rank, last_index, k, out)
                : write_selected_portable(ranks, 0, n, kth_rank, last_index, k, 0, out);
}

}  // namespace

int topk_select(const float* scores, int n, int k, int32_t* out) { return topk_impl(scores, n, k, out, use_avx2); }

int topk_select_portable(const float* scores, int n, int k, int32_t* out) {
    return topk_impl(scores, n, k, out, false);
}

bool topk_avx2_supported() { return use_avx2; }

}  // namespace sparsifiner
