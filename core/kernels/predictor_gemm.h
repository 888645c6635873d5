#pragma once
// The predictor's small products (qc, kc, kl, cheap; core/mask_predictor.cpp) on AVX-512.
// out [rows, ld] = x [rows, inner] (row stride x_stride) times w [inner, ld] plus bias [ld] when
// given; rows a multiple of 4, ld a multiple of 16. Each output is bias + sum over t in order of
// x[t] w[t] by one fused multiply-add per t, exactly as the AVX2 kernel computes it, so both give
// the same values (and the same masks). Call only when cpu_has_avx512().
namespace sparsifiner {

void predictor_gemm_rows4_avx512(const float* x, long long x_stride, int rows, int inner, const float* w, int ld,
                                 const float* bias, float* out);

}  // namespace sparsifiner
