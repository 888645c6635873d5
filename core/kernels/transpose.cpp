// The predictor's transpose (transpose.h). The plain loop wrote one float per destination line
// per source row (32 destination rows of 577 floats at 577 tokens): ~0.12 ms of the 0.29 ms kc
// phase per block. Blocks of 8 x 8 through registers write whole 32-byte pieces instead.
#include "core/kernels/transpose.h"

#include <immintrin.h>

#include "core/kernels/simd/transpose8x8.h"

namespace sparsifiner {

namespace {

void transpose_plain(const float* src, int rows, int cols, long long src_ld, float* dst, long long dst_ld) {
    for (int i = 0; i < rows; i++)
        for (int a = 0; a < cols; a++) dst[a * dst_ld + i] = src[i * src_ld + a];
}

// Rows i0 .. i0 + 7, columns a0 .. a0 + 7 of src to columns i0 .. i0 + 7, rows a0 .. a0 + 7 of dst.
__attribute__((target("avx2"))) void transpose_8x8(const float* src, long long src_ld, float* dst, long long dst_ld) {
    __m256 r[8];
    for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(src + i * src_ld);
    transpose8x8(r);
    for (int a = 0; a < 8; a++) _mm256_storeu_ps(dst + a * dst_ld, r[a]);
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
