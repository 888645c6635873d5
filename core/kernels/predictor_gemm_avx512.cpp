// AVX-512 kernel of the predictor's small products (core/predictor_gemm.h): four rows times 32
// columns per block (eight accumulators; each pair of w loads feeds eight FMAs, four broadcasts),
// the last 16 columns of an ld that is an odd number of 16-column blocks as four rows times 16.
// Column panels are the outer loop, as in the AVX2 kernel: one panel of w is streamed once and
// reused from cache by every block of four rows.
// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on inlined intrinsics (a known false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include "core/kernels/predictor_gemm.h"

#define SPARSIFINER_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma")))

namespace sparsifiner {

namespace {

SPARSIFINER_AVX512 void panel32(const float* x, long long x_stride, int rows, int inner, const float* w, int ld,
                                const float* bias, float* out, int m0) {
    const __m512 b0 = bias ? _mm512_loadu_ps(bias + m0) : _mm512_setzero_ps();
    const __m512 b1 = bias ? _mm512_loadu_ps(bias + m0 + 16) : _mm512_setzero_ps();
    for (int i = 0; i < rows; i += 4) {
        const float* x0 = x + i * x_stride;
        const float* x1 = x0 + x_stride;
        const float* x2 = x1 + x_stride;
        const float* x3 = x2 + x_stride;
        __m512 a00 = b0, a01 = b1, a10 = b0, a11 = b1, a20 = b0, a21 = b1, a30 = b0, a31 = b1;
        const float* wt = w + m0;
        for (int t = 0; t < inner; t++, wt += ld) {
            const __m512 w0 = _mm512_loadu_ps(wt), w1 = _mm512_loadu_ps(wt + 16);
            __m512 v = _mm512_set1_ps(x0[t]);
            a00 = _mm512_fmadd_ps(v, w0, a00);
            a01 = _mm512_fmadd_ps(v, w1, a01);
            v = _mm512_set1_ps(x1[t]);
            a10 = _mm512_fmadd_ps(v, w0, a10);
            a11 = _mm512_fmadd_ps(v, w1, a11);
            v = _mm512_set1_ps(x2[t]);
            a20 = _mm512_fmadd_ps(v, w0, a20);
            a21 = _mm512_fmadd_ps(v, w1, a21);
            v = _mm512_set1_ps(x3[t]);
            a30 = _mm512_fmadd_ps(v, w0, a30);
            a31 = _mm512_fmadd_ps(v, w1, a31);
        }
        float* o = out + static_cast<long long>(i) * ld + m0;
        _mm512_storeu_ps(o, a00);
        _mm512_storeu_ps(o + 16, a01);
        _mm512_storeu_ps(o + ld, a10);
        _mm512_storeu_ps(o + ld + 16, a11);
        _mm512_storeu_ps(o + 2 * ld, a20);
        _mm512_storeu_ps(o + 2 * ld + 16, a21);
        _mm512_storeu_ps(o + 3 * ld, a30);
        _mm512_storeu_ps(o + 3 * ld + 16, a31);
    }
}

SPARSIFINER_AVX512 void panel16(const float* x, long long x_stride, int rows, int inner, const float* w, int ld,
                                const float* bias, float* out, int m0) {
    const __m512 b0 = bias ? _mm512_loadu_ps(bias + m0) : _mm512_setzero_ps();
    for (int i = 0; i < rows; i += 4) {
        const float* x0 = x + i * x_stride;
        const float* x1 = x0 + x_stride;
        const float* x2 = x1 + x_stride;
        const float* x3 = x2 + x_stride;
        __m512 a0 = b0, a1 = b0, a2 = b0, a3 = b0;
        const float* wt = w + m0;
        for (int t = 0; t < inner; t++, wt += ld) {
            const __m512 w0 = _mm512_loadu_ps(wt);
            a0 = _mm512_fmadd_ps(_mm512_set1_ps(x0[t]), w0, a0);
            a1 = _mm512_fmadd_ps(_mm512_set1_ps(x1[t]), w0, a1);
            a2 = _mm512_fmadd_ps(_mm512_set1_ps(x2[t]), w0, a2);
            a3 = _mm512_fmadd_ps(_mm512_set1_ps(x3[t]), w0, a3);
        }
        float* o = out + static_cast<long long>(i) * ld + m0;
        _mm512_storeu_ps(o, a0);
        _mm512_storeu_ps(o + ld, a1);
        _mm512_storeu_ps(o + 2 * ld, a2);
        _mm512_storeu_ps(o + 3 * ld, a3);
    }
}

}  // namespace

void predictor_gemm_rows4_avx512(const float* x, long long x_stride, int rows, int inner, const float* w, int ld,
                                 const float* bias, float* out) {
    int m0 = 0;
    for (; m0 + 32 <= ld; m0 += 32) panel32(x, x_stride, rows, inner, w, ld, bias, out, m0);
    if (m0 < ld) panel16(x, x_stride, rows, inner, w, ld, bias, out, m0);
}

}  // namespace sparsifiner
