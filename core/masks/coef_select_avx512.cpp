// The AVX-512 (F, BW, VL, DQ) instantiation of the block coefficient selection
// (coef_select_kernel.h): sixteen query rows per register. Built with -ffp-contract=off
// (CMakeLists.txt): no multiply and add may be fused here.
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "core/kernels/topk_ranks.h"
#include "core/masks/coef_select.h"
// From here on, code may use AVX-512 (F, BW, VL, DQ): the dispatcher calls it only when the CPU has it.
#include "core/kernels/simd/simd_target_avx512.h"
#include "core/kernels/simd/simd_avx512.h"
#include "core/masks/coef_softmax_kernel.h"
#include "core/masks/coef_select_kernel.h"

namespace sparsifiner {
namespace {

struct CoefLanesAvx512 {
    using Int = __m512i;
    using Mask = __mmask16;
    // Exactly topk_select's ranks (topk_ranks.h): NaN ranks as -inf, -0.0 as +0.0.
    static Int rank(__m512 v) { return ranks16(_mm512_castps_si512(v)); }
    static Mask greater(Int a, Int b) { return _mm512_cmpgt_epi32_mask(a, b); }
    static bool any(Mask m) { return m != 0; }
    static Int select(Mask m, Int if_false, Int if_true) { return _mm512_mask_mov_epi32(if_false, m, if_true); }
    static Int set1(int32_t x) { return _mm512_set1_epi32(x); }
    static Int min(Int a, Int b) { return _mm512_min_epi32(a, b); }
    static Int max(Int a, Int b) { return _mm512_max_epi32(a, b); }
    static void store(int32_t* p, Int v) { _mm512_store_si512(p, v); }

    // A 16 x 16 transpose: pairs of rows interleaved, then pairs of pairs, then the four 128-bit
    // quarters regrouped. u[4q + m]'s quarter L holds column 4L + m of rows 4q .. 4q + 3.
    static void transpose(const float* const* row, int column, int n, float* out) {
        const __mmask16 head = n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1);
        __m512 t[16], u[16];
        for (int p = 0; p < 8; p++) {
            const __m512 a = _mm512_maskz_loadu_ps(head, row[2 * p] + column);
            const __m512 b = _mm512_maskz_loadu_ps(head, row[2 * p + 1] + column);
            t[2 * p] = _mm512_unpacklo_ps(a, b);
            t[2 * p + 1] = _mm512_unpackhi_ps(a, b);
        }
        for (int q = 0; q < 4; q++) {
            const __m512d lo0 = _mm512_castps_pd(t[4 * q]), hi0 = _mm512_castps_pd(t[4 * q + 1]);
            const __m512d lo1 = _mm512_castps_pd(t[4 * q + 2]), hi1 = _mm512_castps_pd(t[4 * q + 3]);
            u[4 * q] = _mm512_castpd_ps(_mm512_unpacklo_pd(lo0, lo1));
            u[4 * q + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(lo0, lo1));
            u[4 * q + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(hi0, hi1));
            u[4 * q + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(hi0, hi1));
        }
        for (int m = 0; m < 4; m++) {
            const __m512 even01 = _mm512_shuffle_f32x4(u[m], u[4 + m], 0x88);
            const __m512 even23 = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0x88);
            const __m512 odd01 = _mm512_shuffle_f32x4(u[m], u[4 + m], 0xDD);
            const __m512 odd23 = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0xDD);
            _mm512_store_ps(out + (0 + m) * 16, _mm512_shuffle_f32x4(even01, even23, 0x88));
            _mm512_store_ps(out + (8 + m) * 16, _mm512_shuffle_f32x4(even01, even23, 0xDD));
            _mm512_store_ps(out + (4 + m) * 16, _mm512_shuffle_f32x4(odd01, odd23, 0x88));
            _mm512_store_ps(out + (12 + m) * 16, _mm512_shuffle_f32x4(odd01, odd23, 0xDD));
        }
    }
};

}  // namespace

void coef_select_rows_avx512(const float* cheap, int ld, int rows, int K, float scale, int coef_topk,
                             int32_t* kept, float* weights, float* scratch) {
    coef_select_vector<SimdAvx512, CoefLanesAvx512>(cheap, ld, rows, K, scale, coef_topk, kept, weights, scratch);
}

}  // namespace sparsifiner
