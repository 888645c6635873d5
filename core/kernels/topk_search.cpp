// The key top-k as a search for the k-th largest rank by counting (issue 15): a few vector passes
// over the row instead of histograms. The state is a bracket [lo, hi] of ranks that holds the k-th
// largest: `at_lo` entries of the row rank >= lo (at least k) and `above` rank > hi (fewer than
// k). Each probe t in (lo, hi] counts the entries >= t in one vector pass and moves one end. The
// probe is interpolated in value between the ends (the rows are smooth, so a handful of probes
// close in), aimed just past k on the side that has not moved, and falls back to halving the
// rank range when interpolation stalls or meets an infinity, so the worst case stays 32 probes.
// Once the bracket holds a small fraction of the array being counted, its entries are compacted
// (in index order) and counting continues on them alone.
//
// Long rows start from a strided sample: the same search on ~256 sampled ranks gives a band that
// should hold the k-th largest, and one pass writes every rank, counts the entries above the band
// and compacts those inside it. The result never depends on the sample: a band that misses is
// detected by the counts, and the search continues from whatever that pass proved.
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/kernels/topk_kernels.h"
#include "core/platform/thread_scratch.h"

namespace sparsifiner {

namespace {

// Rows at least this long start from a sample of about kSampleTarget ranks.
constexpr int kSampleMinRow = 2048;
constexpr int kSampleTarget = 256;
// Candidates few enough to pick the cut among them by direct comparison.
constexpr int kFinishCandidates = 24;

// The array the probes count over: every entry of the row ranked in [lo, hi] (and possibly more),
// with `base` entries of the row outside it that rank above any probe, so that the count of the
// row at t is base + count_at_least(rank, len, t).
struct Counted {
    const int32_t* rank;
    const int32_t* index;  // nullptr: 0..len-1
    int len;
    int base;
};

struct Bracket {
    int32_t lo, hi;
    int at_lo;  // entries >= lo, >= k
    int above;  // entries > hi, < k
    int inside() const { return at_lo - above; }
};

// The probe in (lo, hi] where interpolation in value between the ends predicts `target` entries
// at or above it, or (halving) the value midpoint; the rank midpoint when a value is infinite or
// the value midpoint does not move (ranks span many binades, so halving the rank range first would
// crawl through tiny values).
int32_t next_probe(const Bracket& b, double target, bool halving) {
    const long long lo = b.lo, hi = b.hi;
    const int32_t rank_halving = static_cast<int32_t>(lo + (hi - lo + 1) / 2);
    const double v_lo = topk_rank_value(b.lo), v_hi = topk_rank_value(b.hi);
    if (!std::isfinite(v_lo) || !std::isfinite(v_hi) || !(v_hi > v_lo)) return rank_halving;
    const double fraction = halving ? 0.5 : (b.at_lo - target) / static_cast<double>(b.inside());
    const float value = static_cast<float>(v_lo + fraction * (v_hi - v_lo));
    long long t = std::isfinite(value) ? topk_float_rank(value) : rank_halving;
    if (halving && (t <= lo || t > hi)) t = rank_halving;
    return static_cast<int32_t>(std::min(hi, std::max(lo + 1, t)));
}

// Narrows b until it holds a single rank or at most `finish` entries. `scratch` has room for four
// arrays of counted.len + 16 entries (two ping-pong pairs of rank and index).
//
// Each probe moves one end. The first aims at k itself; later ones aim past k on the side that
// did not move last, by one and a half times the previous probe's miss (how far its count fell
// from its aim), so that on smooth rows the two ends close in on the cut from both sides within
// the interpolation error. Two probes that do not halve the bracket between them are followed by
// a halving step, so the worst case stays bounded.
void narrow(const TopkKernels& kernels, Counted& counted, Bracket& b, int k, int finish, int32_t* scratch) {
    const size_t room = static_cast<size_t>(counted.len) + 16;
    int side = 0, last = 0;
    int inside_before[2] = {INT32_MAX / 2, INT32_MAX / 2};  // one and two probes ago
    double miss = 0;
    while (b.lo < b.hi && b.inside() > finish) {
        // Compact once the bracket holds under a quarter of what a probe would count.
        if (b.inside() * 4 < counted.len) {
            int32_t* rank = scratch + (2 * side) * room;
            int32_t* index = rank + room;
            counted.len = kernels.compact(counted.rank, counted.index, counted.len, b.lo, b.hi, rank, index);
            counted.rank = rank;
            counted.index = index;
            counted.base = b.above;
            side ^= 1;
        }
        const bool halving = b.inside() * 2 > inside_before[1];
        const double margin = std::max(1.0, 1.5 * miss);
        double target = k - 0.5;
        if (last > 0) target = std::max(k - margin, 0.5 * (b.above + k));
        if (last < 0) target = std::min(k - 1.0 + margin, 0.5 * (b.at_lo + k - 1));
        const int32_t t = next_probe(b, target, halving);
        const int at_t = counted.base + kernels.count_at_least(counted.rank, counted.len, t);
        if (!halving) miss = std::fabs(at_t - target);
        inside_before[1] = inside_before[0];
        inside_before[0] = b.inside();
        if (at_t >= k) {
            b.lo = t;
            b.at_lo = at_t;
            last = 1;
        } else {
            b.hi = t - 1;
            b.above = at_t;
            last = -1;
        }
    }
}

// The index of the needed-th largest (rank, -index) among the counted entries in [lo, hi]
// (ties to the lower index), with its rank in *kth_rank.
int cut_among(const TopkKernels& kernels, const Counted& counted, const Bracket& b, int needed, int32_t* kth_rank) {
    if (b.lo == b.hi) {
        // All candidates tie: the needed-th of them in index order.
        *kth_rank = b.lo;
        int seen = 0;
        for (int e = 0; e < counted.len; e++)
            if (counted.rank[e] == b.lo && ++seen == needed) return counted.index ? counted.index[e] : e;
        return -1;  // unreachable: the counts say there are enough
    }
    // At most kFinishCandidates entries (narrow stopped there), plus a vector of store overrun.
    int32_t rank[kFinishCandidates + 16], index[kFinishCandidates + 16];
    const int m = kernels.compact(counted.rank, counted.index, counted.len, b.lo, b.hi, rank, index);
    // The entry with exactly needed - 1 entries before it in (rank descending, index ascending):
    // one 64-bit key per entry orders both at once (the rank, offset to unsigned, above the
    // complement of the index), and a selection finds it in linear time. (Counting, for every
    // entry, the entries before it took m^2 steps: a third of the search at N = 577.)
    uint64_t key[kFinishCandidates + 16];
    for (int e = 0; e < m; e++)
        key[e] = (static_cast<uint64_t>(static_cast<uint32_t>(rank[e]) ^ 0x80000000u) << 32) |
                 (0xFFFFFFFFu - static_cast<uint32_t>(index[e]));
    std::nth_element(key, key + (needed - 1), key + m, [](uint64_t a, uint64_t b) { return a > b; });
    *kth_rank = static_cast<int32_t>(static_cast<uint32_t>(key[needed - 1] >> 32) ^ 0x80000000u);
    return static_cast<int>(0xFFFFFFFFu - static_cast<uint32_t>(key[needed - 1]));
}

// An upper (upper = true) or lower bound of the q-th largest of rank [m], q in [1, m], within a
// few entries of it: the band of a long row need not be exact, only checked.
int32_t sample_bound(const TopkKernels& kernels, const int32_t* rank, int m, int32_t lo, int32_t hi, int q,
                     bool upper, int32_t* scratch) {
    Counted counted{rank, nullptr, m, 0};
    Bracket b{lo, hi, m, 0};
    narrow(kernels, counted, b, q, 4, scratch);
    return upper ? b.hi : b.lo;
}

}  // namespace

int topk_search(const TopkKernels& kernels, const float* scores, int n, int k, int32_t* out) {
    // Each buffer on its own pages (thread_scratch.h: the packing stores must not straddle one).
    const size_t room = scratch_page_floats(static_cast<size_t>(n) + 16);
    int32_t* ranks = reinterpret_cast<int32_t*>(thread_scratch(7 * room, ScratchSlot::selection));
    int32_t* band_rank = ranks + room;
    int32_t* band_index = band_rank + room;
    int32_t* scratch = band_index + room;  // 4 * room

    Counted counted{ranks, nullptr, n, 0};
    Bracket b{};
    bool ranked = false;
    if (n >= kSampleMinRow) {
        const int stride = n / kSampleTarget;
        const int samples = (n - 1) / stride + 1;
        int32_t* sample = band_rank;  // free until the band pass
        int32_t s_lo, s_hi;
        kernels.rank_sample(scores, stride, samples, sample, &s_lo, &s_hi);
        // In the sample about `expected` ranks lie above the k-th largest, give or take `margin`
        // (2.5 standard deviations of a binomial count, plus one).
        const double fraction = static_cast<double>(k) / n;
        const double expected = fraction * samples;
        const double margin = 2.5 * std::sqrt(expected * (1.0 - fraction)) + 1.0;
        const int q_top = static_cast<int>(std::floor(expected - margin));
        const int q_bottom = static_cast<int>(std::ceil(expected + margin));
        // Open-ended where the band reaches past the sample (ranks outside it may exist).
        const int32_t band_hi =
            q_top >= 1 ? sample_bound(kernels, sample, samples, s_lo, s_hi, q_top, true, scratch) : INT32_MAX;
        const int32_t band_lo =
            q_bottom <= samples ? sample_bound(kernels, sample, samples, s_lo, s_hi, q_bottom, false, scratch)
                                : INT32_MIN;
        int above = 0;
        const int inside = kernels.rank_band(scores, n, band_lo, band_hi, ranks, band_rank, band_index, &above);
        ranked = true;
        if (above < k && k <= above + inside) {
            counted = Counted{band_rank, band_index, inside, above};
            b = Bracket{band_lo, band_hi, above + inside, above};
        } else if (above >= k) {
            // The cut is above the band: ranks run up to +inf's at most.
            b = Bracket{band_hi + 1, topk_float_rank(INFINITY), above, 0};
        } else {
            b = Bracket{topk_float_rank(-INFINITY), band_lo - 1, n, above + inside};
        }
    }
    if (!ranked) {
        int32_t lo, hi;
        kernels.rank_row(scores, n, ranks, &lo, &hi);
        b = Bracket{lo, hi, n, 0};
    }
    narrow(kernels, counted, b, k, kFinishCandidates, scratch);
    int32_t kth_rank = 0;
    const int last_index = cut_among(kernels, counted, b, k - b.above, &kth_rank);
    return kernels.write_selected(ranks, n, kth_rank, last_index, k, out);
}

}  // namespace sparsifiner
