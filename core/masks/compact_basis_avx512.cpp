// The AVX-512 (F, BW, VL, DQ) instantiation of the dense basis combination (compact_basis_kernel.h).
#include <cstdint>

#include "core/masks/compact_basis.h"
// From here on, code may use AVX-512 (F, BW, VL, DQ): CompactBasis::combine calls it only when the CPU has it.
#include "core/kernels/simd/simd_target_avx512.h"
#include "core/kernels/simd/simd_avx512.h"
#include "core/masks/compact_basis_kernel.h"

namespace sparsifiner {

void compact_basis_combine_dense_avx512(int cols, int padded_cols, const long long* row_start, const float* values,
                                      const int32_t* rows_used, const float* weight, int count, float* approx) {
    combine_dense_vector<SimdAvx512>(cols, padded_cols, row_start, values, rows_used, weight, count, approx);
}

}  // namespace sparsifiner
