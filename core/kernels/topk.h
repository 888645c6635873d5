#pragma once
// Top-k selection over one row of scores: the k indices with the highest scores, ties broken by
// the lower index (SPEC 2, step 7), returned in ascending index order. Not a sort: for a handful
// of winners a running list, otherwise a search for the k-th largest value by vector counting
// passes, opened from the row's mean and spread (core/kernels/topk_estimate.cpp) or, for rows with
// NaN or infinities, from its whole range of ranks (core/kernels/topk_search.cpp). NaN scores rank
// as -inf so that a bad weight yields a (meaningless but valid) set of indices instead of
// undefined behaviour.
#include "core/platform/isa.h"
#include <cstdint>

#include "core/kernels/topk_kernels.h"

namespace sparsifiner {

// scores [n], out [k] (ascending indices in [0, n)). k is clamped to [0, n]; returns the count
// written. Uses a per-thread scratch buffer that only grows (safe inside OpenMP regions). Runs the
// best kernels this CPU has.
int topk_select(const float* scores, int n, int k, int32_t* out);
// The same with a given instruction set (the tests run every one the CPU has; portable is the
// reference). Only for isa with isa_supported(isa).
int topk_select_isa(Isa isa, const float* scores, int n, int k, int32_t* out);

}  // namespace sparsifiner
