// The key top-k from an estimate of the cut (issue 15). The rank search (core/topk_search.cpp)
// opens with the whole range of the row and needs ~7 counting passes plus a ranking pass at
// N = 577; here one pass of moments (over a quarter of the row when it is long) places the first
// probe where a normal distribution with the row's mean and spread puts the k-th largest, and each further probe aims just past the cut on
// the side that is still open, so two or three counting passes leave a bracket [lo, hi) that
// holds the k-th largest and at most a few dozen entries. One pass copies those entries out (in
// index order) and the cut is found among them by interpolation and compaction, then one pass
// writes the selection. Every step is an exact count on float compares (which order finite
// scores exactly as the ranks do, -0.0 tying with +0.0): the estimate decides only how fast the
// search closes in, never which keys it picks. NaN counts below every probe, as -inf ranks, so
// rows with NaN or infinities away from the cut come out right too; where the cut meets them the
// search gives up and the rank search orders the row.
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/kernels/topk_kernels.h"
#include "core/platform/thread_scratch.h"

namespace sparsifiner {

namespace {

// A bracket of at most this many entries (or n / 16 on long rows, where copying a few hundred
// out costs less than another pass over the row) ends the probing.
constexpr int kBandEntries = 64;
constexpr int kMaxProbes = 8;
// Rows at least this long take their moments from a quarter of the row.
constexpr int kSampledRow = 1024;
// Interpolation steps among the band's entries before the row is given up (never seen: each step
// removes at least one entry, and a step that removes under a quarter is followed by halving).
constexpr int kMaxBandSteps = 64;

// z with P(Z > z) = upper for a standard normal Z, by Newton's method on erfc (once per (n, k):
// the callers ask for one budget over many rows).
double normal_upper_quantile(double upper) {
    double z = 0;
    for (int step = 0; step < 100; step++) {
        const double tail = 0.5 * std::erfc(z / std::sqrt(2.0));
        const double density = std::exp(-0.5 * z * z) / std::sqrt(2.0 * M_PI);
        const double move = std::clamp((tail - upper) / density, -1.0, 1.0);
        z += move;
        if (std::fabs(move) < 1e-10) break;
    }
    return z;
}

struct CutModel {
    int n = -1, k = -1;
    double z = 0;        // the k-th largest of n normal draws sits near mean + z * sd
    double density = 0;  // entries per standard deviation there
};

const CutModel& cut_model(int n, int k) {
    thread_local CutModel model;
    if (model.n != n || model.k != k) {
        model.n = n;
        model.k = k;
        model.z = normal_upper_quantile((k - 0.5) / n);
        model.density = n * std::exp(-0.5 * model.z * model.z) / std::sqrt(2.0 * M_PI);
    }
    return model;
}

// A float strictly inside (lo, hi) nearest to t; false when there is none.
bool strictly_inside(double t, float lo, float hi, float* out) {
    float f = static_cast<float>(t);
    if (!(f > lo)) f = std::nextafter(lo, INFINITY);
    if (!(f < hi)) f = std::nextafter(hi, -INFINITY);
    *out = f;
    return f > lo && f < hi;
}

// The position (value, index) of the needed-th largest of [m] entries, ties to the lower index
// (entries are in index order, so "lower index" is "earlier"). Narrows by interpolating between
// the smallest and largest value and compacting in place until at most kKthInBandMax remain,
// which the kernels' vector ranking (kth_in_band) finishes; -1 if it does not converge.
// *ties_after: whether an entry equal to *kth comes after it (entries equal to the cut are never
// split by a compaction, so they are all still among the last ones looked at).
int cut_in_band(const TopkKernels& kernels, float* value, int32_t* index, int m, int needed, float* kth,
                bool* ties_after) {
    bool halve = false;
    for (int step = 0; m > kKthInBandMax; step++) {
        if (step == kMaxBandSteps) return -1;
        float lo, hi;
        kernels.min_max_f(value, m, &lo, &hi);
        if (!std::isfinite(lo)) return -1;  // -inf in the band (hi < +inf always): ranks order those ties
        if (lo == hi) {  // all tie: the needed-th in index order
            *kth = lo;
            *ties_after = needed < m;
            return index[needed - 1];
        }
        // Where the needed-th largest of m evenly spread values would be, or the middle.
        const double fraction = halve ? 0.5 : (m - needed + 0.5) / m;
        float t = static_cast<float>(lo + fraction * (static_cast<double>(hi) - lo));
        if (!(t > lo)) t = std::nextafter(lo, INFINITY);
        if (t > hi) t = hi;
        const int at_least = kernels.count_at_least_f(value, m, t);
        int kept, unused;
        if (at_least >= needed) {
            kept = kernels.band_f(value, index, m, t, INFINITY, value, index, &unused);
        } else {
            kept = kernels.band_f(value, index, m, -INFINITY, t, value, index, &unused);
            needed -= at_least;
        }
        halve = kept * 4 > m * 3;
        m = kept;
    }
    return kernels.kth_in_band(value, index, m, needed, kth, ties_after);
}

}  // namespace

int topk_search_estimated(const TopkKernels& kernels, const float* scores, int n, int k, int32_t* out) {
    // Long rows: the moments of every fourth group of 16 are close enough for a first probe.
    double sum, sum_squares;
    const int summed = kernels.moments(scores, n, n >= kSampledRow ? 4 : 1, &sum, &sum_squares);
    if (!std::isfinite(sum) || !std::isfinite(sum_squares)) return -1;  // NaN or infinities (or huge scores)
    const double mean = sum / summed;
    const double sd = std::sqrt(std::max(0.0, sum_squares / summed - mean * mean));

    // The bracket: at_lo = #(x >= lo) >= k > at_hi = #(x >= hi).
    float lo = -INFINITY, hi = INFINITY;
    int at_lo = n, at_hi = 0;
    const int band_entries = std::max(kBandEntries, n / 16);
    if (n > band_entries && sd > 0) {
        const CutModel& model = cut_model(n, k);
        const double model_slope = model.density / sd;  // entries per unit of score near the cut
        double t = mean + model.z * sd;
        for (int probe = 0; probe < kMaxProbes && at_lo - at_hi > band_entries; probe++) {
            float tf;
            if (!strictly_inside(t, lo, hi, &tf)) break;
            const int at_t = kernels.count_at_least_f(scores, n, tf);
            if (at_t >= k) {
                lo = tf;
                at_lo = at_t;
            } else {
                hi = tf;
                at_hi = at_t;
            }
            // Aim a quarter band past the cut, on the side this probe did not close: one more
            // probe then usually closes the bracket. The slope is the bracket's own once it has
            // two finite ends, the model's before.
            const double margin = band_entries / 4.0;
            const double aim = at_t >= k ? k - margin : k - 1 + margin;
            const bool finite = std::isfinite(lo) && std::isfinite(hi);
            const double slope = finite ? (at_lo - at_hi) / (static_cast<double>(hi) - lo) : model_slope;
            t = tf + (at_t - aim) / slope;
            if (finite && !(t > lo && t < hi)) t = 0.5 * (static_cast<double>(lo) + hi);
        }
    }

    // Each buffer on its own pages (thread_scratch.h: the packing stores must not straddle one).
    const size_t room = scratch_page_floats(static_cast<size_t>(n) + 16);
    float* band_value = thread_scratch(2 * room, ScratchSlot::selection);
    int32_t* band_index = reinterpret_cast<int32_t*>(band_value + room);
    int above = 0;
    const int m = kernels.band_f(scores, nullptr, n, lo, hi, band_value, band_index, &above);
    // The counts of this pass are the proof (the probes assumed nothing about NaN): a cut that
    // would reach NaN entries, which no compare counts, fails it.
    if (!(above < k && k <= above + m)) return -1;
    float kth = 0;
    bool ties_after = false;
    int last_index = cut_in_band(kernels, band_value, band_index, m, k - above, &kth, &ties_after);
    if (last_index < 0) return -1;
    // No entry equal to kth after the cut (the usual case): the write pass needs no tie test.
    if (!ties_after) last_index = INT32_MAX;
    return kernels.write_selected_f(scores, n, kth, last_index, k, out);
}

}  // namespace sparsifiner
