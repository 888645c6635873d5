// The AVX2 + FMA instantiation of the predictor's small products (predictor_gemm_kernel.h).
#include "core/kernels/predictor_gemm.h"
#include "core/platform/thread_scratch.h"
// From here on, code may use AVX2 + FMA: the dispatcher calls it only when the CPU has it.
#include "core/kernels/simd/simd_target_avx2.h"
#include "core/kernels/simd/simd_avx2.h"
#include "core/kernels/predictor_gemm_kernel.h"

namespace sparsifiner {

void predictor_gemm_rows4_avx2(const float* x, long long x_stride, int rows, int inner, const float* w, int ld,
                             const float* bias, float* out) {
    predictor_gemm_rows4_vector<SimdAvx2>(x, x_stride, rows, inner, w, ld, bias, out);
}

}  // namespace sparsifiner
