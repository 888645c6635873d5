#pragma once
// CompactBasis::combine for the dense format, written once over the vector vocabulary V and
// instantiated in compact_basis_avx2.cpp and _avx512.cpp. Include only inside a target region.
// approx[n] = sum over e < count, in order of e, of weight[e] * row_e[n]: up to eight basis rows
// per pass over approx (each partial sum stays in a register across them: one load and store of
// approx per vector and eight rows), one fused multiply-add per row and column in order of e, as
// the portable loop does: the same bits. The tail of a row goes through masked loads and stores,
// so the padding of approx (to padded_cols()) stays zero.
#include <cstdint>

namespace sparsifiner {
namespace {

// Columns per step of a pass: four vectors, so that four independent chains of fused
// multiply-adds are in flight. With one vector per step each column group's chain (R dependent
// FMAs of 4 cycles) ran back to back: on Zen 4 1.2-1.4x slower at N = 4097 (AVX-512) and up to 2x
// on the AVX2 path (kernel_bench, "coef x basis").
constexpr int kCombineVectors = 4;

// approx = (first ? 0 : approx) + the R rows, weighted, one FMA per row in row order.
template <class V, int R, bool first>
void combine_dense_pass(int cols, const float* const* rows, const float* weight, float* approx) {
    using Vec = typename V::Vec;
    constexpr int W = V::width, U = kCombineVectors;
    Vec w[R];
    for (int r = 0; r < R; r++) w[r] = V::set1(weight[r]);
    int n = 0;
    for (; n + U * W <= cols; n += U * W) {
        Vec sum[U];
        for (int u = 0; u < U; u++) sum[u] = first ? V::zero() : V::load(approx + n + u * W);
        for (int r = 0; r < R; r++)
            for (int u = 0; u < U; u++) sum[u] = V::fma(w[r], V::load(rows[r] + n + u * W), sum[u]);
        for (int u = 0; u < U; u++) V::store(approx + n + u * W, sum[u]);
    }
    for (; n < cols; n += W) {
        const int lanes = cols - n < W ? cols - n : W;
        Vec sum = first ? V::zero() : V::load_head(approx + n, lanes);
        for (int r = 0; r < R; r++) sum = V::fma(w[r], V::load_head(rows[r] + n, lanes), sum);
        V::store_head(approx + n, lanes, sum);
    }
}

// The first pass over approx starts from zero instead of loading it (fma(w, b, 0) is the
// portable loop's first step: the same bits); later passes add to it.
template <class V, int R>
void combine_dense_step(int cols, const float* const* rows, const float* weight, float* approx, bool first) {
    if (first)
        combine_dense_pass<V, R, true>(cols, rows, weight, approx);
    else
        combine_dense_pass<V, R, false>(cols, rows, weight, approx);
}

template <class V>
void combine_dense_vector(int cols, int padded_cols, const long long* row_start, const float* values,
                          const int32_t* rows_used, const float* weight, int count, float* approx) {
    // The padding past the last column stays zero (the tail steps write only the row's lanes).
    for (int n = cols; n < padded_cols; n++) approx[n] = 0.f;
    if (count <= 0) {
        for (int n = 0; n < cols; n++) approx[n] = 0.f;
        return;
    }
    const float* rows[8];
    int e = 0;
    for (; e + 8 <= count; e += 8) {
        for (int u = 0; u < 8; u++) rows[u] = values + row_start[rows_used[e + u]];
        combine_dense_step<V, 8>(cols, rows, weight + e, approx, e == 0);
    }
    for (; e + 4 <= count; e += 4) {
        for (int u = 0; u < 4; u++) rows[u] = values + row_start[rows_used[e + u]];
        combine_dense_step<V, 4>(cols, rows, weight + e, approx, e == 0);
    }
    for (; e < count; e++) {
        rows[0] = values + row_start[rows_used[e]];
        combine_dense_step<V, 1>(cols, rows, weight + e, approx, e == 0);
    }
}

}  // namespace
}  // namespace sparsifiner
