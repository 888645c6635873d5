// The AVX2 + FMA instantiation of the coefficient softmax (coef_softmax_kernel.h). Built with
// -ffp-contract=off (CMakeLists.txt): no multiply and add may be fused here.
#include <cmath>

#include "core/masks/coef_softmax.h"
// From here on, code may use AVX2 + FMA: the dispatcher calls it only when the CPU has it.
#include "core/kernels/simd/simd_target_avx2.h"
#include "core/kernels/simd/simd_avx2.h"
#include "core/masks/coef_softmax_kernel.h"

namespace sparsifiner {

void coef_softmax_avx2(float* row, int K, float scale) { coef_softmax_vector<SimdAvx2>(row, K, scale); }

}  // namespace sparsifiner
