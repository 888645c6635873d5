#pragma once
// The vector kernel of the predictor's small products (predictor_gemm.h), written once over the
// vector vocabulary V and instantiated in predictor_gemm_avx2.cpp and _avx512.cpp. Include only
// inside a target region.
// Eight (AVX-512) or six (AVX2) rows times two vectors of columns per block (each pair of w
// loads feeds sixteen or twelve FMAs), the last vector of columns of an ld that is an odd number
// of vectors as one vector per row. Column panels are the outer loop: one panel of w is read once
// from memory (copied out contiguously when w is large) and then reused from cache by every block
// of rows (for kl, w is proj_n: N x K floats, megabytes at N = 4097, while x = kc^T is only 6 x c
// rows).
// (A plain C++ version with accumulator arrays ran at half this speed: GCC 12 kept them on the stack.)
// Includes: core/platform/thread_scratch.h (the packed panels' buffer), before the target region.

namespace sparsifiner {
namespace {

// Rows [0, rows) of one panel of NV vectors of columns, R rows at a time (rows a multiple of R):
// w is the panel's first column (row stride w_stride), bias (or nullptr) and out its first column
// of the bias and the output (row stride out_ld).
template <class V, int NV, int R>
void predictor_panel(const float* x, long long x_stride, int rows, int inner, const float* w, long long w_stride,
                     const float* bias, float* out, int out_ld) {
    using Vec = typename V::Vec;
    constexpr int W = V::width;
    Vec b[NV];
    for (int c = 0; c < NV; c++) b[c] = bias ? V::load(bias + W * c) : V::zero();
    for (int i = 0; i < rows; i += R) {
        const float* xr[R];
        for (int r = 0; r < R; r++) xr[r] = x + (i + r) * x_stride;
        Vec acc[R][NV];
        for (int r = 0; r < R; r++)
            for (int c = 0; c < NV; c++) acc[r][c] = b[c];
        const float* wt = w;
        for (int t = 0; t < inner; t++, wt += w_stride) {
            Vec wv[NV];
            for (int c = 0; c < NV; c++) wv[c] = V::load(wt + W * c);
#pragma GCC unroll 8
            for (int r = 0; r < R; r++) {
                const Vec v = V::set1(xr[r][t]);
                for (int c = 0; c < NV; c++) acc[r][c] = V::fma(v, wv[c], acc[r][c]);
            }
        }
        float* o = out + static_cast<long long>(i) * out_ld;
        for (int r = 0; r < R; r++)
            for (int c = 0; c < NV; c++) V::store(o + r * out_ld + W * c, acc[r][c]);
    }
}

// A w bigger than this (floats) has its column panels copied out contiguously before use: read in
// place, each step of the inner loop starts a new cache line ld floats past the last one, a new
// 4 KB page every one or two steps, and the AVX2 path (four rows, eight FMAs per step) could not
// hide that: kl at N = 4097 ran at 21-23 GMAC/s against oneDNN's 53 on the same CPU.
constexpr long long kPackPanelsAbove = 64 * 1024;

// Columns [0, NV vectors) of w's rows [0, inner) (row stride ld) into packed [inner, NV vectors].
template <class V, int NV>
void pack_panel(const float* w, int ld, int inner, float* packed) {
    constexpr int W = V::width;
    for (int t = 0; t < inner; t++)
        for (int c = 0; c < NV; c++)
            V::store(packed + (static_cast<long long>(t) * NV + c) * W, V::load(w + static_cast<long long>(t) * ld + W * c));
}

// One panel of NV vectors of columns at m0: rows [0, big) R at a time, then [big, rows) four at a
// time, from w in place or packed.
template <class V, int NV, int R>
void predictor_panel_rows(const float* x, long long x_stride, int rows, int big, int inner, const float* w, int ld,
                          const float* bias, float* out, int m0, float* packed) {
    constexpr int W = V::width;
    const float* panel = w + m0;
    long long panel_stride = ld;
    if (packed) {
        pack_panel<V, NV>(w + m0, ld, inner, packed);
        panel = packed;
        panel_stride = NV * W;
    }
    const float* panel_bias = bias ? bias + m0 : nullptr;
    predictor_panel<V, NV, R>(x, x_stride, big, inner, panel, panel_stride, panel_bias, out + m0, ld);
    if (big < rows)
        predictor_panel<V, NV, 4>(x + big * x_stride, x_stride, rows - big, inner, panel, panel_stride, panel_bias,
                                  out + static_cast<long long>(big) * ld + m0, ld);
}

template <class V>
void predictor_gemm_rows4_vector(const float* x, long long x_stride, int rows, int inner, const float* w, int ld,
                                 const float* bias, float* out) {
    constexpr int W = V::width;
    // As many rows per block as the register file holds accumulators for beside the two w vectors
    // and a broadcast: eight with AVX-512's 32 registers (16 accumulators), six with AVX2's 16 (12;
    // four rows were 9-15% slower: qc at 4097 rows 31.9 against 35.4-36.3 GMAC/s). Each w load then
    // feeds more FMAs. Blocks of four take the rest (rows is a multiple of four, so the R-row part
    // is cut back until a multiple of four remains). Every output still adds its terms in order of
    // t: the same bits.
    constexpr int R = W == 16 ? 8 : 6;
    int big = rows / R * R;
    while ((rows - big) % 4 != 0) big -= R;
    // Packing pays when w is large and its panels are read by more than one block of rows.
    float* packed = static_cast<long long>(inner) * ld > kPackPanelsAbove && rows > R
                        ? thread_scratch(static_cast<size_t>(inner) * 2 * W, ScratchSlot::packing)
                        : nullptr;
    for (int m0 = 0; m0 < ld; m0 += 2 * W) {
        if (m0 + 2 * W <= ld)
            predictor_panel_rows<V, 2, R>(x, x_stride, rows, big, inner, w, ld, bias, out, m0, packed);
        else
            predictor_panel_rows<V, 1, R>(x, x_stride, rows, big, inner, w, ld, bias, out, m0, packed);
    }
}

}  // namespace
}  // namespace sparsifiner
