// The AVX2 + FMA instantiation of GELU (gelu_kernel.h).
#include <cmath>
#include <cstddef>

#include "core/kernels/gelu.h"
// From here on, code may use AVX2 + FMA: the dispatcher calls it only when the CPU has it.
#include "core/kernels/simd/simd_target_avx2.h"
#include "core/kernels/simd/simd_avx2.h"
#include "core/kernels/simd/simd_math.h"
#include "core/kernels/gelu_kernel.h"

namespace sparsifiner {

void gelu_avx2(float* x, size_t n) { gelu_vector<SimdAvx2>(x, n); }

}  // namespace sparsifiner
