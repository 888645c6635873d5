// The AVX-512 (F, BW, VL, DQ) instantiation of the predictor's small products (predictor_gemm_kernel.h).
#include "core/kernels/predictor_gemm.h"
#include "core/platform/thread_scratch.h"
// From here on, code may use AVX-512 (F, BW, VL, DQ): the dispatcher calls it only when the CPU has it.
#include "core/kernels/simd/simd_target_avx512.h"
#include "core/kernels/simd/simd_avx512.h"
#include "core/kernels/predictor_gemm_kernel.h"

namespace sparsifiner {

void predictor_gemm_rows4_avx512(const float* x, long long x_stride, int rows, int inner, const float* w, int ld,
                             const float* bias, float* out) {
    predictor_gemm_rows4_vector<SimdAvx512>(x, x_stride, rows, inner, w, ld, bias, out);
}

}  // namespace sparsifiner
