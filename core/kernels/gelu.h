#pragma once
// GELU, the exact erf form (SPEC 1): gelu(x) = 0.5 x (1 + erf(x / sqrt(2))), in place.
// oneDNN's fused gelu_erf post-op measured about 2.4 ns per element on Zen 3 (12x its ReLU),
// which made fc1 the slowest Linear of DeiT-S; this vectorised version is several times faster.
// The AVX2 and AVX-512 paths use an erf approximation with |error| < 2e-7; the portable path
// uses std::erf. gelu_inplace picks the best path the CPU supports.
#include <cstddef>

#include "core/platform/isa.h"

namespace sparsifiner {

void gelu_inplace(float* x, size_t n);
void gelu_inplace_isa(Isa isa, float* x, size_t n);  // for tests: a path the CPU supports
// The vector paths (gelu_kernel.h), for the dispatcher: n floats, any n.
void gelu_avx2(float* x, size_t n);
void gelu_avx512(float* x, size_t n);

}  // namespace sparsifiner
