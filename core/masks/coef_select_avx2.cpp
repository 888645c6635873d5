// The AVX2 + FMA instantiation of the block coefficient selection (coef_select_kernel.h): eight
// query rows per register. Built with -ffp-contract=off (CMakeLists.txt): no multiply and add may
// be fused here.
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "core/masks/coef_select.h"
// From here on, code may use AVX2 and FMA: the dispatcher calls it only when the CPU has them.
#include "core/kernels/simd/simd_target_avx2.h"
#include "core/kernels/simd/simd_avx2.h"
#include "core/masks/coef_softmax_kernel.h"
#include "core/masks/coef_select_kernel.h"

namespace sparsifiner {
namespace {

struct CoefLanesAvx2 {
    using Int = __m256i;
    using Mask = __m256i;  // all ones in the lanes where the comparison holds
    // topk_float_rank, lane by lane: NaN ranks as -inf, -0.0 as +0.0.
    static Int rank(__m256 v) {
        __m256i bits = _mm256_castps_si256(v);
        const __m256i magnitude = _mm256_and_si256(bits, _mm256_set1_epi32(0x7FFFFFFF));
        bits = _mm256_blendv_epi8(bits, _mm256_set1_epi32(static_cast<int>(0xFF800000u)),
                                  _mm256_cmpgt_epi32(magnitude, _mm256_set1_epi32(0x7F800000)));
        bits = _mm256_andnot_si256(_mm256_cmpeq_epi32(magnitude, _mm256_setzero_si256()), bits);
        return _mm256_xor_si256(bits, _mm256_and_si256(_mm256_srai_epi32(bits, 31), _mm256_set1_epi32(0x7FFFFFFF)));
    }
    static Mask greater(Int a, Int b) { return _mm256_cmpgt_epi32(a, b); }
    static bool any(Mask m) { return !_mm256_testz_si256(m, m); }
    static Int select(Mask m, Int if_false, Int if_true) { return _mm256_blendv_epi8(if_false, if_true, m); }
    static Int set1(int32_t x) { return _mm256_set1_epi32(x); }
    static Int min(Int a, Int b) { return _mm256_min_epi32(a, b); }
    static Int max(Int a, Int b) { return _mm256_max_epi32(a, b); }
    static void store(int32_t* p, Int v) { _mm256_store_si256(reinterpret_cast<__m256i*>(p), v); }

    // An 8 x 8 transpose: pairs of rows interleaved, then pairs of pairs, then the two 128-bit
    // halves regrouped. u[4q + m]'s half L holds column 4L + m of rows 4q .. 4q + 3.
    static void transpose(const float* const* row, int column, int n, float* out) {
        alignas(32) static const int32_t kIota[8] = {0, 1, 2, 3, 4, 5, 6, 7};
        const __m256i head = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_load_si256(reinterpret_cast<const __m256i*>(kIota)));
        __m256 t[8], u[8];
        for (int p = 0; p < 4; p++) {
            const __m256 a = _mm256_maskload_ps(row[2 * p] + column, head);
            const __m256 b = _mm256_maskload_ps(row[2 * p + 1] + column, head);
            t[2 * p] = _mm256_unpacklo_ps(a, b);
            t[2 * p + 1] = _mm256_unpackhi_ps(a, b);
        }
        for (int q = 0; q < 2; q++) {
            const __m256d lo0 = _mm256_castps_pd(t[4 * q]), hi0 = _mm256_castps_pd(t[4 * q + 1]);
            const __m256d lo1 = _mm256_castps_pd(t[4 * q + 2]), hi1 = _mm256_castps_pd(t[4 * q + 3]);
            u[4 * q] = _mm256_castpd_ps(_mm256_unpacklo_pd(lo0, lo1));
            u[4 * q + 1] = _mm256_castpd_ps(_mm256_unpackhi_pd(lo0, lo1));
            u[4 * q + 2] = _mm256_castpd_ps(_mm256_unpacklo_pd(hi0, hi1));
            u[4 * q + 3] = _mm256_castpd_ps(_mm256_unpackhi_pd(hi0, hi1));
        }
        for (int m = 0; m < 4; m++) {
            _mm256_store_ps(out + m * 8, _mm256_permute2f128_ps(u[m], u[4 + m], 0x20));
            _mm256_store_ps(out + (4 + m) * 8, _mm256_permute2f128_ps(u[m], u[4 + m], 0x31));
        }
    }
};

}  // namespace

void coef_select_rows_avx2(const float* cheap, int ld, int rows, int K, float scale, int coef_topk, int32_t* kept,
                           float* weights, float* scratch) {
    coef_select_vector<SimdAvx2, CoefLanesAvx2>(cheap, ld, rows, K, scale, coef_topk, kept, weights, scratch);
}

}  // namespace sparsifiner
