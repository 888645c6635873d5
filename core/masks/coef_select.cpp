// The dispatcher of the block coefficient selection and its row-by-row reference.
#include "core/masks/coef_select.h"

#include "core/kernels/topk.h"
#include "core/masks/coef_softmax.h"
#include "core/platform/thread_scratch.h"

namespace sparsifiner {

size_t coef_select_scratch_floats(int K) { return static_cast<size_t>((K + 15) / 16 * 16) * 16; }

void coef_select_rows_per_row(Isa isa, float* cheap, int ld, int rows, int K, float scale, int coef_topk,
                              int32_t* kept, float* weights) {
    for (int r = 0; r < rows; r++) {
        float* coef = cheap + static_cast<long long>(r) * ld;
        int32_t* row_kept = kept + static_cast<long long>(r) * coef_topk;
        coef_softmax(coef, K, scale, isa);
        const int n = topk_select_isa(isa, coef, K, coef_topk, row_kept);
        for (int e = 0; e < n; e++) weights[static_cast<long long>(r) * coef_topk + e] = coef[row_kept[e]];
    }
}

void coef_select_rows(Isa isa, float* cheap, int ld, int rows, int K, float scale, int coef_topk, int32_t* kept,
                      float* weights) {
    if (rows <= 0) return;
    if (coef_topk > kCoefSelectMaxTopk || isa == Isa::portable) {
        coef_select_rows_per_row(isa, cheap, ld, rows, K, scale, coef_topk, kept, weights);
        return;
    }
    // The selection slot: nothing else holds it here (the caller's cheap rows are in the kernel slot).
    float* columns = thread_scratch(coef_select_scratch_floats(K), ScratchSlot::selection);
    if (isa == Isa::avx512)
        coef_select_rows_avx512(cheap, ld, rows, K, scale, coef_topk, kept, weights, columns);
    else
        coef_select_rows_avx2(cheap, ld, rows, K, scale, coef_topk, kept, weights, columns);
}

}  // namespace sparsifiner
