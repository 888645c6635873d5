// The AVX-512 (F, BW, VL, DQ) instantiation of GELU (gelu_kernel.h).
#include <cmath>
#include <cstddef>

#include "core/kernels/gelu.h"
// From here on, code may use AVX-512 (F, BW, VL, DQ): the dispatcher calls it only when the CPU has it.
#include "core/kernels/simd/simd_target_avx512.h"
#include "core/kernels/simd/simd_avx512.h"
#include "core/kernels/simd/simd_math.h"
#include "core/kernels/gelu_kernel.h"

namespace sparsifiner {

void gelu_avx512(float* x, size_t n) { gelu_vector<SimdAvx512>(x, n); }

}  // namespace sparsifiner
