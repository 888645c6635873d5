// The AVX-512 (F, BW, VL, DQ) instantiation of the fused dense attention tile kernel (fused_attention_kernel.h).
#include <cmath>

#include "core/kernels/fused_attention.h"
// From here on, code may use AVX-512 (F, BW, VL, DQ): the dispatcher calls it only when the CPU has it.
#include "core/kernels/simd/simd_target_avx512.h"
#include "core/kernels/simd/simd_avx512.h"
#include "core/kernels/simd/simd_math.h"
#include "core/kernels/fused_attention_kernel.h"

namespace sparsifiner {

void fused_attention_tile_avx512(const FusedAttentionArgs& a, int b, int h, int row_begin, int row_end,
                             float* scratch) {
    fused_attention_tile_vector<SimdAvx512>(a, b, h, row_begin, row_end, scratch);
}

}  // namespace sparsifiner
