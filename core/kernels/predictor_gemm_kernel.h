#pragma once
// The vector kernel of the predictor's small products (predictor_gemm.h), written once over the
// vector vocabulary V and instantiated in predictor_gemm_avx2.cpp and _avx512.cpp. Include only
// inside a target region.
// Eight (AVX-512) or four (AVX2) rows times two vectors of columns per block (each pair of w
// loads feeds sixteen or eight FMAs), the last vector of columns of an ld that is an odd number
// of vectors as four rows times one vector. Column panels are the outer loop: one panel of w is
// streamed once from memory and then reused from cache by every block of four rows (for kl, w is
// proj_n: N x K floats, megabytes at N = 4097, while x = kc^T is only c rows).
// (A plain C++ version with accumulator arrays ran at half this speed: GCC 12 kept them on the stack.)

namespace sparsifiner {
namespace {

// Rows [0, rows) of one panel of NV vectors of columns starting at m0, R rows at a time (rows a
// multiple of R).
template <class V, int NV, int R>
void predictor_panel(const float* x, long long x_stride, int rows, int inner, const float* w, int ld,
                     const float* bias, float* out, int m0) {
    using Vec = typename V::Vec;
    constexpr int W = V::width;
    Vec b[NV];
    for (int c = 0; c < NV; c++) b[c] = bias ? V::load(bias + m0 + W * c) : V::zero();
    for (int i = 0; i < rows; i += R) {
        const float* xr[R];
        for (int r = 0; r < R; r++) xr[r] = x + (i + r) * x_stride;
        Vec acc[R][NV];
        for (int r = 0; r < R; r++)
            for (int c = 0; c < NV; c++) acc[r][c] = b[c];
        const float* wt = w + m0;
        for (int t = 0; t < inner; t++, wt += ld) {
            Vec wv[NV];
            for (int c = 0; c < NV; c++) wv[c] = V::load(wt + W * c);
#pragma GCC unroll 8
            for (int r = 0; r < R; r++) {
                const Vec v = V::set1(xr[r][t]);
                for (int c = 0; c < NV; c++) acc[r][c] = V::fma(v, wv[c], acc[r][c]);
            }
        }
        float* o = out + static_cast<long long>(i) * ld + m0;
        for (int r = 0; r < R; r++)
            for (int c = 0; c < NV; c++) V::store(o + r * ld + W * c, acc[r][c]);
    }
}

template <class V>
void predictor_gemm_rows4_vector(const float* x, long long x_stride, int rows, int inner, const float* w, int ld,
                                 const float* bias, float* out) {
    constexpr int W = V::width;
    // Eight rows per block where the register file holds their 16 accumulators beside the w
    // vectors (AVX-512's 32 registers): each w load then feeds eight FMAs, not four. Blocks of four
    // take the rest. Every output still adds its terms in order of t: the same bits.
    constexpr int R = W == 16 ? 8 : 4;
    const int big = rows / R * R;
    for (int m0 = 0; m0 < ld; m0 += 2 * W) {
        const bool two = m0 + 2 * W <= ld;
        if (two) predictor_panel<V, 2, R>(x, x_stride, big, inner, w, ld, bias, out, m0);
        else predictor_panel<V, 1, R>(x, x_stride, big, inner, w, ld, bias, out, m0);
        if (big < rows) {
            const float* xb = x + big * x_stride;
            float* ob = out + static_cast<long long>(big) * ld;
            if (two) predictor_panel<V, 2, 4>(xb, x_stride, rows - big, inner, w, ld, bias, ob, m0);
            else predictor_panel<V, 1, 4>(xb, x_stride, rows - big, inner, w, ld, bias, ob, m0);
        }
    }
}

}  // namespace
}  // namespace sparsifiner
