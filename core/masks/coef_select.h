#pragma once
// The predictor's coefficients for a block of query rows (SPEC 2, step 4): coef = softmax(cheap *
// scale) over the K compressed tokens, then each row's coef_topk largest (ties to the lower index),
// as ascending indices and the coefficient values at them (not renormalised).
//
// Why a block and not a row: at K = 96 (577 tokens) a row's softmax and top-8 were ~200 ns, most
// of it per-row overhead (horizontal reductions, tails, the candidate search of topk_select). The
// vector paths put one query row in each lane (16 rows per AVX-512 register, 8 per AVX2 one):
// every coefficient column is one vector, the maxima and sums need no horizontal step, and the
// top-k is a running insertion into coef_topk sorted registers. The values are the per-row
// path's bits: the same element-wise operations (coef_exp), the same eight partial sums combined
// as the same tree, the same ranks (topk_float_rank: NaN as -inf) and ties to the lower index.
#include "core/platform/isa.h"
#include <cstdint>

namespace sparsifiner {

// The vector paths handle coef_topk up to this; above it every path runs row by row.
constexpr int kCoefSelectMaxTopk = 8;

// cheap [rows, ld] (ld >= K; each row is overwritten as scratch), K >= 1, coef_topk in [1, K].
// kept [rows, coef_topk]: ascending coefficient indices; weights [rows, coef_topk]: coef at them.
// isa: the path (the caller checks that the CPU has it); every path gives the portable one's bits.
void coef_select_rows(Isa isa, float* cheap, int ld, int rows, int K, float scale, int coef_topk, int32_t* kept,
                      float* weights);

// The reference: per row, coef_softmax and topk_select on the given path.
void coef_select_rows_per_row(Isa isa, float* cheap, int ld, int rows, int K, float scale, int coef_topk,
                              int32_t* kept, float* weights);

// The vector paths (coef_select_kernel.h), for the dispatcher. scratch: at least
// coef_select_scratch_floats(K) floats, 64-byte aligned.
size_t coef_select_scratch_floats(int K);
void coef_select_rows_avx2(const float* cheap, int ld, int rows, int K, float scale, int coef_topk, int32_t* kept,
                           float* weights, float* scratch);
void coef_select_rows_avx512(const float* cheap, int ld, int rows, int K, float scale, int coef_topk,
                             int32_t* kept, float* weights, float* scratch);

}  // namespace sparsifiner
