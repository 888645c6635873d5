#pragma once
// The coefficient softmax and top-k of a block of query rows (coef_select.h), written once over the
// vector vocabulary V and a lane set L of the integer operations it needs, and instantiated in
// coef_select_avx2.cpp and _avx512.cpp (built with -ffp-contract=off, like the per-row softmax).
// One query row per lane: a group of V::width rows is transposed so that coefficient j of every
// row is one vector, then
//   1. x = cheap * scale, the row maxima (V::max skips NaN, as the per-row loops do);
//   2. e = coef_exp(x - max), summed into eight partial sums, e_j into sum j % 8 in order of j, and
//      combined as ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)): the per-row association;
//   3. coef = e * (1 / sum), ranked as topk_select ranks (NaN as -inf) and inserted into eight
//      registers sorted by rank: a coefficient takes the first slot whose rank it strictly
//      exceeds, so among equal ranks the one seen first (the lower index) stays ahead;
//   4. the first coef_topk slots' indices sorted ascending per lane (a sorting network).
// L provides: Int, Mask, rank(Vec), greater(Int, Int) -> Mask, any(Mask), select(Mask, if_false,
// if_true), set1(int32_t), min / max (Int), store(int32_t*, Int), and transpose(rows, column, n,
// out): columns [column, column + n) of width rows, one row per pointer, as n vectors of width
// lanes at out (the remaining of the width vectors hold anything).
// Include only inside a target region, after the vocabulary, simd_avx2.h and coef_softmax_kernel.h.
#include <cmath>
#include <cstdint>

namespace sparsifiner {
namespace {

template <class L>
void compare_exchange(typename L::Int& low, typename L::Int& high) {
    const typename L::Int a = low;
    low = L::min(a, high);
    high = L::max(a, high);
}

// Sorts eight integer vectors lane by lane, ascending (19 comparators in six layers).
template <class L>
void sort8(typename L::Int* v) {
    compare_exchange<L>(v[0], v[2]), compare_exchange<L>(v[1], v[3]), compare_exchange<L>(v[4], v[6]),
        compare_exchange<L>(v[5], v[7]);
    compare_exchange<L>(v[0], v[4]), compare_exchange<L>(v[1], v[5]), compare_exchange<L>(v[2], v[6]),
        compare_exchange<L>(v[3], v[7]);
    compare_exchange<L>(v[0], v[1]), compare_exchange<L>(v[2], v[3]), compare_exchange<L>(v[4], v[5]),
        compare_exchange<L>(v[6], v[7]);
    compare_exchange<L>(v[2], v[4]), compare_exchange<L>(v[3], v[5]);
    compare_exchange<L>(v[1], v[4]), compare_exchange<L>(v[3], v[6]);
    compare_exchange<L>(v[1], v[2]), compare_exchange<L>(v[3], v[4]), compare_exchange<L>(v[5], v[6]);
}

// One group of up to V::width rows (lanes past `lanes` repeat row 0 and are not written out).
// columns: [round_up(K, width), width] floats of scratch.
template <class V, class L>
void coef_select_group(const float* const* row, int lanes, int K, float scale, int coef_topk, int32_t* kept,
                       float* weights, float* columns) {
    using Vec = typename V::Vec;
    using Int = typename L::Int;
    using Mask = typename L::Mask;
    constexpr int W = V::width;
    static_assert(kCoefSelectMaxTopk == 8, "the insertion and the sort below hold eight slots");

    // 1. Transposed, scaled, and each row's maximum.
    const Vec vscale = V::set1(scale);
    Vec vmax = V::set1(-INFINITY);
    for (int j0 = 0; j0 < K; j0 += W) {
        const int n = K - j0 < W ? K - j0 : W;
        L::transpose(row, j0, n, columns + static_cast<size_t>(j0) * W);
        for (int j = j0; j < j0 + n; j++) {
            const Vec x = V::mul(V::load(columns + static_cast<size_t>(j) * W), vscale);
            V::store(columns + static_cast<size_t>(j) * W, x);
            vmax = V::max(x, vmax);
        }
    }
    // 2. Numerators and the eight partial sums.
    Vec part[8];
    for (auto& p : part) p = V::zero();
    int j = 0;
    for (; j + 8 <= K; j += 8)
        for (int u = 0; u < 8; u++) {
            float* at = columns + static_cast<size_t>(j + u) * W;
            const Vec e = coef_exp<V>(V::sub(V::load(at), vmax));
            V::store(at, e);
            part[u] = V::add(part[u], e);
        }
    for (int u = 0; j + u < K; u++) {
        float* at = columns + static_cast<size_t>(j + u) * W;
        const Vec e = coef_exp<V>(V::sub(V::load(at), vmax));
        V::store(at, e);
        part[u] = V::add(part[u], e);
    }
    const Vec sum = V::add(V::add(V::add(part[0], part[1]), V::add(part[2], part[3])),
                           V::add(V::add(part[4], part[5]), V::add(part[6], part[7])));
    const Vec inv_sum = V::div(V::set1(1.0f), sum);
    // 3. Normalised and inserted by rank.
    Int top_rank[8], top_index[8];
    for (int s = 0; s < 8; s++) {
        top_rank[s] = L::set1(INT32_MIN);
        top_index[s] = L::set1(0);
    }
    for (j = 0; j < K; j++) {
        float* at = columns + static_cast<size_t>(j) * W;
        const Vec coef = V::mul(V::load(at), inv_sum);
        V::store(at, coef);
        const Int rank = L::rank(coef);
        // A rank that beats no lane's last slot changes nothing (past the first few dozen
        // coefficients, most do not).
        Mask beats_here = L::greater(rank, top_rank[7]);
        if (!L::any(beats_here)) continue;
        // The new coefficient goes to the first slot it beats (a strictly greater rank); that slot
        // and every one after it move down by one. Slots are sorted, so "beats slot s" holds for
        // every s from that one on: slot s takes slot s - 1's entry where the new one beats s - 1,
        // else the new one where it beats s, else keeps its own. Walked from the last slot up, so
        // that each compare reads a slot before it changes.
        const Int index = L::set1(j);
        for (int s = 7; s > 0; s--) {
            const Mask beats_above = L::greater(rank, top_rank[s - 1]);
            top_rank[s] = L::select(beats_above, L::max(rank, top_rank[s]), top_rank[s - 1]);
            top_index[s] = L::select(beats_above, L::select(beats_here, top_index[s], index), top_index[s - 1]);
            beats_here = beats_above;
        }
        top_rank[0] = L::max(rank, top_rank[0]);
        top_index[0] = L::select(beats_here, top_index[0], index);
    }
    // 4. The kept slots' indices ascending (the others sort to the end), then out per row.
    for (int s = coef_topk; s < 8; s++) top_index[s] = L::set1(INT32_MAX);
    sort8<L>(top_index);
    alignas(64) int32_t index_of[8][W];
    for (int s = 0; s < 8; s++) L::store(index_of[s], top_index[s]);
    for (int l = 0; l < lanes; l++)
        for (int e = 0; e < coef_topk; e++) {
            const int32_t m = index_of[e][l];
            kept[l * coef_topk + e] = m;
            weights[l * coef_topk + e] = columns[static_cast<size_t>(m) * W + l];
        }
}

template <class V, class L>
void coef_select_vector(const float* cheap, int ld, int rows, int K, float scale, int coef_topk, int32_t* kept,
                        float* weights, float* columns) {
    constexpr int W = V::width;
    for (int g = 0; g < rows; g += W) {
        const int lanes = rows - g < W ? rows - g : W;
        const float* row[W];
        for (int l = 0; l < W; l++) row[l] = cheap + static_cast<long long>(g + (l < lanes ? l : 0)) * ld;
        coef_select_group<V, L>(row, lanes, K, scale, coef_topk, kept + static_cast<long long>(g) * coef_topk,
                                weights + static_cast<long long>(g) * coef_topk, columns);
    }
}

}  // namespace
}  // namespace sparsifiner
