// The predictor's transpose (transpose.h). The plain loop wrote one float per destination line
// per source row (32 destination rows of 577 floats at 577 tokens): ~0.12 ms of the 0.29 ms kc
// phase per block. Blocks of 8 x 8 through registers write whole 32-byte pieces instead.
#include "core/kernels/transpose.h"

#include <immintrin.h>

namespace sparsifiner {

namespace {

void transpose_plain(const float* src, int rows, int cols, long long src_ld, float* dst, long long dst_ld) {
    for (int i = 0; i < rows; i++)
        for (int a = 0; a < cols; a++) dst[a * dst_ld + i] = src[i * src_ld + a];
}

// Rows i0 .. i0 + 7, columns a0 .. a0 + 7: pairs of rows interleaved, pairs of pairs, then the
// 128-bit halves regrouped (u[4 q + m]'s half L holds column 4 L + m of rows 4 q .. 4 q + 3).
__attribute__((target("avx2"))) void transpose_8x8(const float* src, long long src_ld, float* dst, long long dst_ld) {
    __m256 t[8], u[8];
    for (int p = 0; p < 4; p++) {
        const __m256 a = _mm256_loadu_ps(src + (2 * p) * src_ld);
        const __m256 b = _mm256_loadu_ps(src + (2 * p + 1) * src_ld);
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
        _mm256_storeu_ps(dst + m * dst_ld, _mm256_permute2f128_ps(u[m], u[4 + m], 0x20));
        _mm256_storeu_ps(dst + (4 + m) * dst_ld, _mm256_permute2f128_ps(u[m], u[4 + m], 0x31));
    }
}

__attribute__((target("avx2"))) void transpose_avx2(const float* src, int rows, int cols, long long src_ld, float* dst,
                                                    long long dst_ld) {
    const int full_rows = rows / 8 * 8, full_cols = cols / 8 * 8;
    for (int i0 = 0; i0 < full_rows; i0 += 8)
        for (int a0 = 0; a0 < full_cols; a0 += 8) transpose_8x8(src + i0 * src_ld + a0, src_ld, dst + a0 * dst_ld + i0, dst_ld);
    // The edges: the last rows % 8 rows (every column) and the last cols % 8 columns (every row).
    if (full_rows < rows) transpose_plain(src + full_rows * src_ld, rows - full_rows, cols, src_ld, dst + full_rows, dst_ld);
    if (full_cols < cols)
        transpose_plain(src + full_cols, full_rows, cols - full_cols, src_ld, dst + full_cols * dst_ld, dst_ld);
}

}  // namespace

void transpose_rows(Isa isa, const float* src, int rows, int cols, long long src_ld, float* dst, long long dst_ld) {
    if (isa == Isa::portable)
        transpose_plain(src, rows, cols, src_ld, dst, dst_ld);
    else
        transpose_avx2(src, rows, cols, src_ld, dst, dst_ld);
}

}  // namespace sparsifiner
