// The AVX2 + FMA instantiation of the fused dense attention tile kernel (fused_attention_kernel.h).
#include <cmath>

#include "core/kernels/fused_attention.h"
// From here on, code may use AVX2 + FMA: the dispatcher calls it only when the CPU has it.
#include "core/kernels/simd/simd_target_avx2.h"
#include "core/kernels/simd/simd_avx2.h"
#include "core/kernels/simd/simd_math.h"
#include "core/kernels/fused_attention_kernel.h"

namespace sparsifiner {

void fused_attention_tile_avx2(const FusedAttentionArgs& a, int b, int h, int row_begin, int row_end,
                             float* scratch) {
    fused_attention_tile_vector<SimdAvx2>(a, b, h, row_begin, row_end, scratch);
}

}  // namespace sparsifiner
