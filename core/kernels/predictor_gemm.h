#pragma once
// The predictor's small products (qc, kc, kl, cheap; core/masks/mask_predictor.cpp):
// out [rows, ld] = x [rows, inner] (row stride x_stride) times w [inner, ld], plus bias [ld] when
// given; ld a multiple of kPredictorColBlock (operands are padded with zero columns). Rows past
// `rows` are not touched.
// Every output starts at its bias and adds x[t] w[t] for t = 0, 1, ... as one fused multiply-add
// each, on every path, so the portable, AVX2 and AVX-512 paths give the same bits (and the
// predictor the same masks).
#include "core/platform/isa.h"

namespace sparsifiner {

constexpr int kPredictorColBlock = 16;
inline int predictor_pad_cols(int cols) { return (cols + kPredictorColBlock - 1) / kPredictorColBlock * kPredictorColBlock; }

void predictor_gemm(Isa isa, const float* x, long long x_stride, int rows, int inner, const float* w, int ld,
                    const float* bias, float* out);

// The vector paths (predictor_gemm_kernel.h), for the dispatcher: whole blocks of four rows only.
void predictor_gemm_rows4_avx2(const float* x, long long x_stride, int rows, int inner, const float* w, int ld,
                               const float* bias, float* out);
void predictor_gemm_rows4_avx512(const float* x, long long x_stride, int rows, int inner, const float* w, int ld,
                                 const float* bias, float* out);

}  // namespace sparsifiner
