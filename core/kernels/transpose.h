#pragma once
// dst [cols, rows] = src [rows, cols], row strides src_ld and dst_ld: the predictor's kc -> kc^T
// (core/masks/mask_predictor.cpp), which its kl product reads row by row. A copy, so every path
// gives the same values.
#include "core/platform/isa.h"

namespace sparsifiner {

// isa: the path (the caller checks that the CPU has it): AVX2 (also on AVX-512 CPUs) moves 8 x 8
// blocks through registers; portable is a plain loop.
void transpose_rows(Isa isa, const float* src, int rows, int cols, long long src_ld, float* dst, long long dst_ld);

}  // namespace sparsifiner
