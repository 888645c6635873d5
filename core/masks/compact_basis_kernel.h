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

template <class V, int R>
void combine_dense_pass(int cols, const float* const* rows, const float* weight, float* approx) {
    using Vec = typename V::Vec;
    constexpr int W = V::width;
    Vec w[R];
    for (int u = 0; u < R; u++) w[u] = V::set1(weight[u]);
    for (int n = 0; n < cols; n += W) {
        const int lanes = cols - n < W ? cols - n : W;
        Vec sum = V::load_head(approx + n, lanes);
        for (int u = 0; u < R; u++) sum = V::fma(w[u], V::load_head(rows[u] + n, lanes), sum);
        V::store_head(approx + n, lanes, sum);
    }
}

template <class V>
void combine_dense_vector(int cols, int padded_cols, const long long* row_start, const float* values,
                          const int32_t* rows_used, const float* weight, int count, float* approx) {
    for (int n = 0; n < padded_cols; n++) approx[n] = 0.f;
    const float* rows[8];
    int e = 0;
    for (; e + 8 <= count; e += 8) {
        for (int u = 0; u < 8; u++) rows[u] = values + row_start[rows_used[e + u]];
        combine_dense_pass<V, 8>(cols, rows, weight + e, approx);
    }
    for (; e + 4 <= count; e += 4) {
        for (int u = 0; u < 4; u++) rows[u] = values + row_start[rows_used[e + u]];
        combine_dense_pass<V, 4>(cols, rows, weight + e, approx);
    }
    for (; e < count; e++) {
        rows[0] = values + row_start[rows_used[e]];
        combine_dense_pass<V, 1>(cols, rows, weight + e, approx);
    }
}

}  // namespace
}  // namespace sparsifiner
