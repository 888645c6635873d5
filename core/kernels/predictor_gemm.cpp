// The dispatcher and the portable path of the predictor's small products (predictor_gemm.h).
#include "core/kernels/predictor_gemm.h"

#include <cmath>

namespace sparsifiner {

namespace {

// The portable path: loops written so that the compiler vectorises them (inner loops over
// contiguous, padded rows of fixed width, accumulators in fixed size arrays). target_clones builds
// an AVX2+FMA (x86-64-v3) copy next to the baseline one and picks it at load time, so the default
// build stays any-x86-64; std::fma is one instruction in the first and a correctly rounded libm
// call in the second, so both give the vector paths' bits.
__attribute__((target_clones("arch=x86-64-v3", "default")))
void gemm_rows_plain(const float* x, long long x_stride, int rows, int inner, const float* w, int ld,
                     const float* bias, float* out) {
    int i = 0;
    for (; i + 4 <= rows; i += 4) {
        const float* x0 = x + i * x_stride;
        const float* x1 = x0 + x_stride;
        const float* x2 = x1 + x_stride;
        const float* x3 = x2 + x_stride;
        for (int m0 = 0; m0 < ld; m0 += kPredictorColBlock) {
            float a0[kPredictorColBlock], a1[kPredictorColBlock], a2[kPredictorColBlock], a3[kPredictorColBlock];
            for (int m = 0; m < kPredictorColBlock; m++) a0[m] = a1[m] = a2[m] = a3[m] = bias ? bias[m0 + m] : 0.f;
            for (int t = 0; t < inner; t++) {
                const float* wt = w + static_cast<long long>(t) * ld + m0;
                const float v0 = x0[t], v1 = x1[t], v2 = x2[t], v3 = x3[t];
                for (int m = 0; m < kPredictorColBlock; m++) {
                    a0[m] = std::fma(v0, wt[m], a0[m]);
                    a1[m] = std::fma(v1, wt[m], a1[m]);
                    a2[m] = std::fma(v2, wt[m], a2[m]);
                    a3[m] = std::fma(v3, wt[m], a3[m]);
                }
            }
            float* o = out + static_cast<long long>(i) * ld + m0;
            for (int m = 0; m < kPredictorColBlock; m++) {
                o[m] = a0[m];
                o[ld + m] = a1[m];
                o[2 * ld + m] = a2[m];
                o[3 * ld + m] = a3[m];
            }
        }
    }
    for (; i < rows; i++) {
        const float* xi = x + i * x_stride;
        for (int m0 = 0; m0 < ld; m0 += kPredictorColBlock) {
            float a0[kPredictorColBlock];
            for (int m = 0; m < kPredictorColBlock; m++) a0[m] = bias ? bias[m0 + m] : 0.f;
            for (int t = 0; t < inner; t++) {
                const float* wt = w + static_cast<long long>(t) * ld + m0;
                const float v0 = xi[t];
                for (int m = 0; m < kPredictorColBlock; m++) a0[m] = std::fma(v0, wt[m], a0[m]);
            }
            for (int m = 0; m < kPredictorColBlock; m++) out[static_cast<long long>(i) * ld + m0 + m] = a0[m];
        }
    }
}

}  // namespace

// The vector paths run the whole blocks of four rows, the last one to three rows go through the
// portable loops (the same fused multiply-adds in the same order).
void predictor_gemm(Isa isa, const float* x, long long x_stride, int rows, int inner, const float* w, int ld,
                    const float* bias, float* out) {
    const int full = isa == Isa::portable ? 0 : rows / 4 * 4;
    if (isa == Isa::avx512)
        predictor_gemm_rows4_avx512(x, x_stride, full, inner, w, ld, bias, out);
    else if (isa == Isa::avx2)
        predictor_gemm_rows4_avx2(x, x_stride, full, inner, w, ld, bias, out);
    if (full < rows)
        gemm_rows_plain(x + full * x_stride, x_stride, rows - full, inner, w, ld, bias,
                        out + static_cast<long long>(full) * ld);
}

}  // namespace sparsifiner
