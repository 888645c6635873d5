#pragma once
// The connectivity predictor's coefficient softmax (SPEC 2 step 4: coef = softmax(cheap) over
// the K compressed tokens) and the exponential it uses.
//
// Why a file of its own: the coefficients decide which basis rows a query mixes, and near-tie
// rows of the key top-k flip on errors of a few 1e-7, so this is where the predictor's float32
// quality is won or lost. The exponential is accurate to about one ulp (libm's expf: 0.5); the
// portable and AVX2 builds of the softmax run the same float operations in the same order (this
// file is compiled with -ffp-contract=off, so the compiler fuses no multiply-add in one build and
// not in the other) and give bit-identical rows.
#include "core/platform/isa.h"

namespace sparsifiner {

// e^x for x <= 0 (the softmax subtracts the row maximum first). Below -87.3 the result would be
// denormal and is flushed to 0; -inf and NaN inputs also give 0. Max error ~1 ulp.
float exp_nonpositive(float x);

// row [K] = softmax(row * scale), in place: scaled first (cheap = (qc kl) * H^-0.5 as the
// official code rounds it), max and sum over eight interleaved partial results, then every entry
// multiplied by 1 / sum. isa: the path (the caller checks that the CPU has it); every path gives
// the portable one's bits.
void coef_softmax(float* row, int K, float scale, Isa isa);

// The vector paths (coef_softmax_kernel.h), for the dispatcher.
void coef_softmax_avx2(float* row, int K, float scale);
void coef_softmax_avx512(float* row, int K, float scale);

}  // namespace sparsifiner
