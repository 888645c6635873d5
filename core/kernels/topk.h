#pragma once
// Top-k selection over one row of scores: the k indices with the highest scores, ties broken by
// the lower index (SPEC 2, step 7), returned in ascending index order. O(n) on average: a
// selection (a sampled band checked by one vector pass, then histograms of the few candidates
// left), not a sort of the whole row. NaN scores rank as -inf so that a bad weight yields
// a (meaningless but valid) set of indices instead of undefined behaviour.
#include <cstdint>

namespace sparsifiner {

// scores [n], out [k] (ascending indices in [0, n)). k is clamped to [0, n]; returns the count
// written. Uses a per-thread scratch buffer that only grows (safe inside OpenMP regions).
int topk_select(const float* scores, int n, int k, int32_t* out);
// The same with the portable code only (no AVX2 passes), for tests on machines that have AVX2.
int topk_select_portable(const float* scores, int n, int k, int32_t* out);
// Whether topk_select uses its AVX2 passes on this CPU.
bool topk_avx2_supported();

}  // namespace sparsifiner
