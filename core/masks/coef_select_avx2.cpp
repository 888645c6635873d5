// The AVX2 + FMA instantiation of the block coefficient selection (coef_select_kernel.h): eight
// query rows per register. Built with -ffp-contract=off (CMakeLists.txt): no multiply and add may
// be fused here.
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "core/kernels/topk_ranks.h"
#include "core/masks/coef_select.h"
// From here on, code may use AVX2 and FMA: the dispatcher calls it only when the CPU has them.
#include "core/kernels/simd/simd_target_avx2.h"
#include "core/kernels/simd/simd_avx2.h"
#include "core/kernels/simd/transpose8x8.h"
#include "core/masks/coef_softmax_kernel.h"
#include "core/masks/coef_select_kernel.h"

namespace sparsifiner {
namespace {

struct CoefLanesAvx2 {
    using Int = __m256i;
    using Mask = __m256i;  // all ones in the lanes where the comparison holds
    // Exactly topk_select's ranks (topk_ranks.h): NaN ranks as -inf, -0.0 as +0.0.
    static Int rank(__m256 v) { return ranks8(_mm256_castps_si256(v)); }
    static Mask greater(Int a, Int b) { return _mm256_cmpgt_epi32(a, b); }
    static bool any(Mask m) { return !_mm256_testz_si256(m, m); }
    static Int select(Mask m, Int if_false, Int if_true) { return _mm256_blendv_epi8(if_false, if_true, m); }
    static Int set1(int32_t x) { return _mm256_set1_epi32(x); }
    static Int min(Int a, Int b) { return _mm256_min_epi32(a, b); }
    static Int max(Int a, Int b) { return _mm256_max_epi32(a, b); }
    static void store(int32_t* p, Int v) { _mm256_store_si256(reinterpret_cast<__m256i*>(p), v); }

    // Columns [column, column + n) of the eight rows, as n vectors of eight lanes at out.
    static void transpose(const float* const* row, int column, int n, float* out) {
        alignas(32) static const int32_t kIota[8] = {0, 1, 2, 3, 4, 5, 6, 7};
        const __m256i head = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_load_si256(reinterpret_cast<const __m256i*>(kIota)));
        __m256 r[8];
        for (int i = 0; i < 8; i++) r[i] = _mm256_maskload_ps(row[i] + column, head);
        transpose8x8(r);
        for (int c = 0; c < 8; c++) _mm256_store_ps(out + c * 8, r[c]);
    }
};

}  // namespace

void coef_select_rows_avx2(const float* cheap, int ld, int rows, int K, float scale, int coef_topk, int32_t* kept,
                           float* weights, float* scratch) {
    coef_select_vector<SimdAvx2, CoefLanesAvx2>(cheap, ld, rows, K, scale, coef_topk, kept, weights, scratch);
}

}  // namespace sparsifiner
