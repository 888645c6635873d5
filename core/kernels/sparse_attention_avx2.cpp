// The AVX2 + FMA instantiation of the sparse attention row kernel (sparse_attention_kernel.h).
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "core/kernels/sparse_attention.h"
// From here on, code may use AVX2 + FMA: the dispatcher calls it only when the CPU has it.
#include "core/kernels/simd/simd_target_avx2.h"
#include "core/kernels/simd/simd_avx2.h"
#include "core/kernels/simd/simd_math.h"
#include "core/kernels/sparse_attention_kernel.h"

namespace sparsifiner {

void sparse_attention_rows_avx2(const SparseAttentionArgs& a, int b, int h, int row_begin, int row_end,
                              float* scratch) {
    sparse_attention_rows_vector<SimdAvx2>(a, b, h, row_begin, row_end, scratch);
}

}  // namespace sparsifiner
