// topk_select (core/kernels/topk.cpp) against a full-sort reference written here, on random rows, the
// edge sizes, ties and NaN.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/kernels/topk.h"
#include "core/kernels/topk_kernels.h"

using namespace sparsifiner;

namespace {

// Brute force: order every index by (score descending, NaN as -inf, index ascending), take k.
std::vector<int32_t> topk_reference(const std::vector<float>& scores, int k) {
    const int n = static_cast<int>(scores.size());
    auto value = [&](int i) {
        return std::isnan(scores[i]) ? -std::numeric_limits<float>::infinity() : scores[i];
    };
    std::vector<int32_t> order(n);
    for (int i = 0; i < n; i++) order[i] = i;
    std::sort(order.begin(), order.end(), [&](int a, int b) {
        if (value(a) != value(b)) return value(a) > value(b);
        return a < b;
    });
    order.resize(std::min(std::max(k, 0), n));
    std::sort(order.begin(), order.end());
    return order;
}

// Runs the selection on every instruction set the CPU has (portable, AVX2, AVX-512): each must
// write exactly its count and nothing past it, and all must give the same indices (checked here),
// which the callers compare to the reference.
std::vector<int32_t> topk_run(const std::vector<float>& scores, int k) {
    std::vector<int32_t> out(std::max(k, 0) + 1, -7);
    int written = topk_select(scores.data(), static_cast<int>(scores.size()), k, out.data());
    CHECK(out[written] == -7);  // nothing written past the count
    out.resize(written);
    for (Isa isa : {Isa::portable, Isa::avx2, Isa::avx512}) {
        if (!isa_supported(isa)) continue;
        CAPTURE(std::string(isa_name(isa)));
        std::vector<int32_t> path(std::max(k, 0) + 1, -7);
        written = topk_select_isa(isa, scores.data(), static_cast<int>(scores.size()), k, path.data());
        CHECK(path[written] == -7);
        path.resize(written);
        CHECK(path == out);
    }
    return out;
}

}  // namespace

TEST_CASE("topk_select matches a full sort on random rows") {
    std::mt19937 rng(11);
    std::normal_distribution<float> normal;
    for (int n : {1, 2, 7, 50, 197, 1000}) {
        std::vector<float> scores(n);
        for (auto& s : scores) s = normal(rng);
        for (int k : {1, 2, n / 3, n / 2, n - 1, n}) {
            if (k < 1) continue;
            CAPTURE(n);
            CAPTURE(k);
            CHECK(topk_run(scores, k) == topk_reference(scores, k));
        }
    }
}

TEST_CASE("topk_select: k = 1 is the argmax, k = n is everything, k out of range is clamped") {
    std::vector<float> scores = {0.5f, -2.f, 3.f, 1.f};
    CHECK(topk_run(scores, 1) == std::vector<int32_t>{2});
    CHECK(topk_run(scores, 4) == std::vector<int32_t>{0, 1, 2, 3});
    CHECK(topk_run(scores, 9).size() == 4);
    CHECK(topk_run(scores, 0).empty());
    CHECK(topk_run(scores, -3).empty());
    CHECK(topk_select(scores.data(), 0, 2, nullptr) == 0);
}

TEST_CASE("topk_select breaks ties by the lower index") {
    // All equal: the first k indices.
    std::vector<float> flat(20, 0.25f);
    CHECK(topk_run(flat, 5) == std::vector<int32_t>{0, 1, 2, 3, 4});
    // Half ties: the two 9s are in, then three of the five 4s, the lowest-indexed ones.
    std::vector<float> half = {4, 1, 9, 4, 4, 0, 4, 9, 4, 1};
    CHECK(topk_run(half, 5) == std::vector<int32_t>{0, 2, 3, 4, 7});
    // -0.0 and +0.0 compare equal, so they tie too.
    std::vector<float> zeros = {-1.f, 0.0f, -0.0f, 0.0f};
    CHECK(topk_run(zeros, 2) == std::vector<int32_t>{1, 2});
    // Random rows with many repeated values against the reference.
    std::mt19937 rng(5);
    std::uniform_int_distribution<int> few(0, 3);
    for (int trial = 0; trial < 20; trial++) {
        std::vector<float> scores(64);
        for (auto& s : scores) s = static_cast<float>(few(rng));
        for (int k : {1, 10, 33, 63})
            CHECK(topk_run(scores, k) == topk_reference(scores, k));
    }
}

TEST_CASE("topk_select ranks NaN as -inf and infinities in order") {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    std::vector<float> scores = {nan, 1.f, -inf, nan, inf, -5.f};
    CHECK(topk_run(scores, 3) == std::vector<int32_t>{1, 4, 5});
    // With NaN tied to -inf, the lower index among {0 (NaN), 2 (-inf), 3 (NaN)} wins.
    CHECK(topk_run(scores, 4) == std::vector<int32_t>{0, 1, 4, 5});
    std::vector<float> all_nan(6, nan);
    CHECK(topk_run(all_nan, 2) == std::vector<int32_t>{0, 1});
}

TEST_CASE("topk_select on long rows shaped like the predictor's: zeros, a wide range, repeats") {
    // The selection narrows a range of ranks by counting and compacts the candidates: rows with
    // many exact zeros (uncovered keys), values spread over many binades, runs of equal values at
    // the cut, and negative values, at the sizes the predictor sees (N = 577, 1025, 4097).
    std::mt19937 rng(17);
    std::uniform_real_distribution<float> unit(0.f, 1.f);
    for (int n : {577, 1025, 4097}) {
        for (int shape = 0; shape < 4; shape++) {
            std::vector<float> scores(n);
            for (auto& s : scores) {
                const float u = unit(rng);
                if (shape == 0) s = u < 0.3f ? 0.f : u * 0.05f;                     // zeros + smooth
                if (shape == 1) s = std::ldexp(1.f + u, -static_cast<int>(40 * unit(rng)));  // 40 binades
                if (shape == 2) s = static_cast<float>(static_cast<int>(u * 6)) * 0.25f;  // 6 values
                if (shape == 3) s = (u - 0.5f) * (unit(rng) < 0.5f ? 1e-3f : 1e3f);  // both signs
            }
            for (int k : {1, 8, 16, 17, n / 10, (n + 3) / 4, n / 2, n - 1}) {
                CAPTURE(n);
                CAPTURE(shape);
                CAPTURE(k);
                CHECK(topk_run(scores, k) == topk_reference(scores, k));
            }
        }
    }
}

TEST_CASE("topk_select with few winners (the running-list path): ties, NaN, -0.0") {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    std::vector<float> scores = {0.f, -0.f, nan, 2.f, 2.f, -1.f, 2.f, 0.f, nan, 3.f};
    for (int k = 1; k <= 10; k++) {
        CAPTURE(k);
        CHECK(topk_run(scores, k) == topk_reference(scores, k));
    }
    std::mt19937 rng(3);
    std::uniform_int_distribution<int> few(0, 2);
    for (int trial = 0; trial < 50; trial++) {
        std::vector<float> row(96);
        for (auto& s : row) s = static_cast<float>(few(rng));
        for (int k : {1, 5, 8, 16}) CHECK(topk_run(row, k) == topk_reference(row, k));
    }
}

TEST_CASE("topk_select when the cut hides in a sliver of a wide range (several narrowing steps)") {
    // Most scores sit within a few thousand ulps of 1.0 (many exact repeats), while a handful of
    // outliers (+inf, 1e30, -1e30, -inf, NaN) stretch the range of ranks to nearly all 2^32: the
    // first histogram puts every ordinary score in one bucket, so the selection has to narrow
    // several times and then break ties at the cut by index.
    std::mt19937 rng(29);
    std::uniform_int_distribution<int> ulps(0, 2999);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    for (int n : {300, 5000}) {
        std::vector<float> scores(n);
        for (auto& s : scores) {
            uint32_t bits;
            const float one = 1.0f;
            std::memcpy(&bits, &one, sizeof bits);
            bits += static_cast<uint32_t>(ulps(rng));
            std::memcpy(&s, &bits, sizeof s);
        }
        scores[3] = inf;
        scores[n / 2] = 1e30f;
        scores[n / 3] = -1e30f;
        scores[n - 2] = -inf;
        scores[n / 5] = nan;
        for (int k : {1, 3, 17, 100, n / 4, n / 2, n - 3, n - 1}) {
            CAPTURE(n);
            CAPTURE(k);
            CHECK(topk_run(scores, k) == topk_reference(scores, k));
        }
    }
}

TEST_CASE("topk_select when a strided sample of the row misleads (the exact fallback)") {
    // Long rows start from a band estimated on every s-th score and then checked exactly. Here
    // the scores at multiples of a period are far larger (or smaller) than the rest, so for the
    // period equal to the sample stride (or a divisor of it) the sample sees only them, the band
    // misses the cut, and the selection must fall back to narrowing the whole row.
    std::mt19937 rng(41);
    std::uniform_real_distribution<float> unit(0.f, 1.f);
    for (int n : {600, 1025, 4097, 9000}) {
        for (int period : {2, 3, 4, 5, 8, 10, 16, 23, 64}) {
            for (int sign : {1, -1}) {
                std::vector<float> scores(n);
                for (int i = 0; i < n; i++) scores[i] = unit(rng) + (i % period == 0 ? sign * 100.f : 0.f);
                for (int k : {17, n / period, n / 4, n / 2, n - 20}) {
                    if (k <= 16) continue;
                    CAPTURE(n);
                    CAPTURE(period);
                    CAPTURE(sign);
                    CAPTURE(k);
                    CHECK(topk_run(scores, k) == topk_reference(scores, k));
                }
            }
        }
    }
}

TEST_CASE("topk_select on every ISA path: long rows with NaN, infinities and budgets 1 to N") {
    // The counting search brackets the k-th rank by interpolating between values: infinities and
    // NaN (ranked -inf) at either end force its halving steps, runs of -inf ties force the cut to
    // be broken by index among them.
    std::mt19937 rng(23);
    std::normal_distribution<float> normal;
    std::uniform_real_distribution<float> unit(0.f, 1.f);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    for (int n : {197, 577, 1025, 4097}) {
        for (int shape = 0; shape < 3; shape++) {
            std::vector<float> scores(n);
            for (auto& s : scores) {
                const float u = unit(rng);
                s = normal(rng);
                if (shape == 0 && u < 0.05f) s = nan;
                if (shape == 1 && u < 0.3f) s = -inf;
                if (shape == 1 && u > 0.99f) s = inf;
                if (shape == 2 && u < 0.5f) s = u < 0.25f ? nan : -inf;
            }
            for (int k : {1, 2, 16, 17, n / 4, n / 2, 3 * n / 4, n - 1, n}) {
                CAPTURE(n);
                CAPTURE(shape);
                CAPTURE(k);
                CHECK(topk_run(scores, k) == topk_reference(scores, k));
            }
        }
    }
}

TEST_CASE("topk_isa: names and the best path") {
    CHECK(isa_supported(Isa::portable));
    CHECK(isa_supported(isa_best()));
    CHECK(std::string(isa_name(Isa::avx512)) == "avx512");
}

TEST_CASE("topk_select, k <= 16 on rows shaped like the predictor's coefficients (every path)") {
    // The AVX-512 path packs the entries at or above the k-th largest of its sixteen lane maxima
    // and counts, for each, how many beat it: exact ties at the top, -0.0 against +0.0, NaN and
    // infinities must come out as the reference orders them, and a row with more than 64 entries
    // tied at the top must fall back to the general path and still be right.
    std::mt19937 rng(41);
    std::normal_distribution<float> normal;
    std::uniform_real_distribution<float> unit(0.f, 1.f);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    for (int n : {9, 16, 17, 31, 96, 171, 683}) {
        for (int shape = 0; shape < 5; shape++) {
            for (int trial = 0; trial < 20; trial++) {
                std::vector<float> row(n);
                for (auto& s : row) {
                    const float u = unit(rng);
                    s = normal(rng);
                    if (shape == 1) s = std::round(s * 2.f) / 2.f;   // many exact ties, also at the top
                    if (shape == 2 && u < 0.1f) s = u < 0.05f ? nan : -0.f;
                    if (shape == 3 && u < 0.05f) s = u < 0.02f ? inf : -inf;
                    if (shape == 4) s = u < 0.9f ? 1.f : 0.f;        // > 64 tied at the top when n is large
                }
                for (int k : {1, 2, 8, 15, 16}) {
                    if (k > n) continue;
                    CAPTURE(n);
                    CAPTURE(shape);
                    CAPTURE(k);
                    CHECK(topk_run(row, k) == topk_reference(row, k));
                }
            }
        }
    }
}

TEST_CASE("the estimated-cut search takes finite rows itself and gives up only where the cut meets NaN or -inf") {
    // topk_select falls back to the rank search when topk_search_estimated returns -1, so the
    // answers above would stay right even if the fast search always gave up: here it must not.
    std::mt19937 rng(59);
    std::normal_distribution<float> normal;
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    // The portable set has no float passes (topk_select keeps it on the rank search).
    CHECK(!topk_kernels_portable().moments);
    for (Isa isa : {Isa::avx2, Isa::avx512}) {
        if (!isa_supported(isa)) continue;
        const TopkKernels& kernels = isa == Isa::avx2 ? topk_kernels_avx2() : topk_kernels_avx512();
        CAPTURE(std::string(isa_name(isa)));
        // 20000: longer than the two-step band pass takes (it packs instead).
        for (int n : {40, 197, 577, 1025, 4097, 20000}) {
            std::vector<float> row(n);
            for (auto& s : row) s = normal(rng);
            std::vector<int32_t> out(n + 1, -7);
            for (int k : {17, n / 4, n / 2, n - 1}) {
                if (k <= 16 || k >= n) continue;
                CAPTURE(n);
                CAPTURE(k);
                std::fill(out.begin(), out.end(), -7);
                REQUIRE(topk_search_estimated(kernels, row.data(), n, k, out.data()) == k);
                CHECK(out[k] == -7);
                CHECK(std::vector<int32_t>(out.begin(), out.begin() + k) == topk_reference(row, k));
            }
            // NaN and infinities away from the cut: right whenever taken. Their moments are not
            // finite, so the search gives up unless they lie outside the sample a long row takes
            // its moments from (groups 1-3 of every 4 groups of 16): then it must take the row.
            std::vector<float> spiked = row;
            const bool unsampled = n >= 1024;
            spiked[unsampled ? 20 : n / 3] = nan;
            spiked[unsampled ? 40 : n / 2] = inf;
            spiked[unsampled ? 60 : n - 1] = -inf;
            const int k = n / 4 > 16 ? n / 4 : 17;
            std::fill(out.begin(), out.end(), -7);
            const int got = topk_search_estimated(kernels, spiked.data(), n, k, out.data());
            if (unsampled) CHECK(got == k);
            if (got >= 0) {
                CHECK(got == k);
                CHECK(std::vector<int32_t>(out.begin(), out.begin() + k) == topk_reference(spiked, k));
            }
            // The cut inside a run of NaN / -inf (the rank search orders those ties): given up,
            // also when the sample of a long row misses them (groups 1 and 3 of every 4).
            std::vector<float> sunk = row;
            for (int i = 0; i < n; i++)
                if ((i / 16) % 2 == 1) sunk[i] = (i / 16) % 4 == 1 ? nan : -inf;
            CHECK(topk_search_estimated(kernels, sunk.data(), n, n - 2, out.data()) == -1);
            // All equal: the first k.
            std::vector<float> flat(n, 0.5f);
            CHECK(topk_search_estimated(kernels, flat.data(), n, 17, out.data()) == 17);
            CHECK(out[0] == 0);
            CHECK(out[16] == 16);
        }
    }
}

TEST_CASE("kth_in_band: the needed-th of a small band by vector ranking, ties to the earlier entry") {
    // The band holds entries in index order; the kernel must pick the entry with exactly
    // needed - 1 entries ahead of it (larger, or equal and earlier), say whether an equal one
    // follows, and give up (-1) on -inf. Checked against a plain count on bands of every size up
    // to kKthInBandMax, many of them full of ties.
    std::mt19937 rng(71);
    std::uniform_int_distribution<int> small(0, 5);
    std::normal_distribution<float> normal;
    const bool portable_has_it = topk_kernels_portable().kth_in_band != nullptr;
    CHECK(!portable_has_it);
    for (Isa isa : {Isa::avx2, Isa::avx512}) {
        if (!isa_supported(isa)) continue;
        const TopkKernels& kernels = isa == Isa::avx2 ? topk_kernels_avx2() : topk_kernels_avx512();
        const bool has_it = kernels.kth_in_band != nullptr;
        REQUIRE(has_it);
        CAPTURE(std::string(isa_name(isa)));
        int checked = 0;
        for (int m = 1; m <= kKthInBandMax; m++)
            for (bool ties : {false, true}) {
                std::vector<float> value(m);
                std::vector<int32_t> index(m);
                for (int e = 0; e < m; e++) {
                    value[e] = ties ? static_cast<float>(small(rng)) : normal(rng);
                    index[e] = 3 * e + 1;  // any ascending indices
                }
                for (int needed = 1; needed <= m; needed++) {
                    int want = -1;
                    for (int j = 0; j < m && want < 0; j++) {
                        int ahead = 0;
                        for (int e = 0; e < m; e++) ahead += value[e] > value[j] || (value[e] == value[j] && e < j);
                        if (ahead == needed - 1) want = j;
                    }
                    bool want_later = false;
                    for (int e = want + 1; e < m; e++) want_later |= value[e] == value[want];
                    float kth = -1;
                    bool later = !want_later;
                    CAPTURE(m);
                    CAPTURE(needed);
                    CHECK(kernels.kth_in_band(value.data(), index.data(), m, needed, &kth, &later) == index[want]);
                    CHECK(kth == value[want]);
                    CHECK(later == want_later);
                    checked++;
                }
                // -inf anywhere in the band: given up (the rank search orders such ties).
                value[m / 2] = -std::numeric_limits<float>::infinity();
                float kth;
                bool later;
                CHECK(kernels.kth_in_band(value.data(), index.data(), m, 1, &kth, &later) == -1);
            }
        MESSAGE(checked << " bands and cuts checked on " << std::string(isa_name(isa)));
    }
}
