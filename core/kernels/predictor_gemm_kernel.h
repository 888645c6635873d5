#pragma once
// The vector kernel of the predictor's small products (predictor_gemm.h), written once over the
// vector vocabulary V and instantiated in predictor_gemm_avx2.cpp and _avx512.cpp. Include only
// inside a target region.
// Four rows times two vectors of columns per block (eight accumulators; each pair of w loads
// feeds eight FMAs, four broadcasts), the last vector of columns of an ld that is an odd number
// of vectors as four rows times one vector. Column panels are the outer loop: one panel of w is
// streamed once from memory and then reused from cache by every block of four rows (for kl, w is
// proj_n: N x K floats, megabytes at N = 4097, while x = kc^T is only c rows).
// (A plain C++ version with accumulator arrays ran at half this speed: GCC 12 kept them on the stack.)

namespace sparsifiner {
namespace {

template <class V, int NV>
void predictor_panel(const float* x, long long x_stride, int rows, int inner, const float* w, int ld,
                     const float* bias, float* out, int m0) {
    using Vec = typename V::Vec;
    constexpr int W = V::width;
    Vec b[NV];
    for (int c = 0; c < NV; c++) b[c] = bias ? V::load(bias + m0 + W * c) : V::zero();
    for (int i = 0; i < rows; i += 4) {
        const float* xr[4] = {x + i * x_stride, x + (i + 1) * x_stride, x + (i + 2) * x_stride,
                              x + (i + 3) * x_stride};
        Vec acc[4][NV];
        for (int r = 0; r < 4; r++)
            for (int c = 0; c < NV; c++) acc[r][c] = b[c];
        const float* wt = w + m0;
        for (int t = 0; t < inner; t++, wt += ld) {
            Vec wv[NV];
            for (int c = 0; c < NV; c++) wv[c] = V::load(wt + W * c);
            for (int r = 0; r < 4; r++) {
                const Vec v = V::set1(xr[r][t]);
                for (int c = 0; c < NV; c++) acc[r][c] = V::fma(v, wv[c], acc[r][c]);
            }
        }
        float* o = out + static_cast<long long>(i) * ld + m0;
        for (int r = 0; r < 4; r++)
            for (int c = 0; c < NV; c++) V::store(o + r * ld + W * c, acc[r][c]);
    }
}

template <class V>
void predictor_gemm_rows4_vector(const float* x, long long x_stride, int rows, int inner, const float* w, int ld,
                                 const float* bias, float* out) {
    constexpr int W = V::width;
    int m0 = 0;
    for (; m0 + 2 * W <= ld; m0 += 2 * W) predictor_panel<V, 2>(x, x_stride, rows, inner, w, ld, bias, out, m0);
    if (m0 < ld) predictor_panel<V, 1>(x, x_stride, rows, inner, w, ld, bias, out, m0);
}

}  // namespace
}  // namespace sparsifiner
