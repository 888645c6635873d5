// The AVX-512 (F, BW, VL, DQ) instantiation of the sparse attention row kernel (sparse_attention_kernel.h).
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "core/kernels/sparse_attention.h"
// From here on, code may use AVX-512 (F, BW, VL, DQ): the dispatcher calls it only when the CPU has it.
#include "core/kernels/simd/simd_target_avx512.h"
#include "core/kernels/simd/simd_avx512.h"
#include "core/kernels/simd/simd_math.h"
#include "core/kernels/sparse_attention_kernel.h"

namespace sparsifiner {

void sparse_attention_rows_avx512(const SparseAttentionArgs& a, int b, int h, int row_begin, int row_end,
                              float* scratch) {
    sparse_attention_rows_vector<SimdAvx512>(a, b, h, row_begin, row_end, scratch);
}

}  // namespace sparsifiner
