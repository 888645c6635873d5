// The AVX-512 (F, BW, VL, DQ) instantiation of the coefficient softmax (coef_softmax_kernel.h). Built with
// -ffp-contract=off (CMakeLists.txt): no multiply and add may be fused here.
#include <cmath>

#include "core/masks/coef_softmax.h"
// From here on, code may use AVX-512 (F, BW, VL, DQ): the dispatcher calls it only when the CPU has it.
#include "core/kernels/simd/simd_target_avx512.h"
#include "core/kernels/simd/simd_avx512.h"
#include "core/masks/coef_softmax_kernel.h"

namespace sparsifiner {

void coef_softmax_avx512(float* row, int K, float scale) { coef_softmax_vector<SimdAvx512>(row, K, scale); }

}  // namespace sparsifiner
