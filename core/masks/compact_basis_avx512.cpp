// AVX-512 kernels of the basis product (core/compact_basis_avx512.h).
// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on inlined intrinsics (a known false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include "core/masks/compact_basis_avx512.h"

#define SPARSIFINER_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma")))

namespace sparsifiner {

namespace {

SPARSIFINER_AVX512 inline __mmask16 low_lanes(int count) {
    return static_cast<__mmask16>((1u << count) - 1u);
}

// Columns 16 b .. 16 b + 15 of a bitmap row from its packed values (masked load: no read past the
// row's last value), advancing packed.
SPARSIFINER_AVX512 inline __m512 expand16(const uint8_t* row_bits, int groups, int b, const float*& packed) {
    const unsigned high = 2 * b + 1 < groups ? row_bits[2 * b + 1] : 0u;
    const __mmask16 present = static_cast<__mmask16>(row_bits[2 * b] | (high << 8));
    const int count = __builtin_popcount(present);
    const __m512 v = _mm512_maskz_expand_ps(present, _mm512_maskz_loadu_ps(low_lanes(count), packed));
    packed += count;
    return v;
}

}  // namespace

SPARSIFINER_AVX512 void compact_basis_combine_bitmap_avx512(const uint8_t* bits, int groups, const long long* row_start,
                                                            const float* values, const int32_t* rows_used,
                                                            const float* weight, int count, float* approx) {
    const int blocks = (groups + 1) / 2;
    // The last block holds only eight columns when groups is odd: approx is padded to 8 groups.
    auto lanes_of = [&](int b) { return 2 * b + 1 < groups ? static_cast<__mmask16>(0xFFFF) : low_lanes(8); };
    for (int b = 0; b < blocks; b++) _mm512_mask_storeu_ps(approx + 16 * b, lanes_of(b), _mm512_setzero_ps());
    int e = 0;
    for (; e + 4 <= count; e += 4) {
        const uint8_t* bits0 = bits + static_cast<long long>(rows_used[e]) * groups;
        const uint8_t* bits1 = bits + static_cast<long long>(rows_used[e + 1]) * groups;
        const uint8_t* bits2 = bits + static_cast<long long>(rows_used[e + 2]) * groups;
        const uint8_t* bits3 = bits + static_cast<long long>(rows_used[e + 3]) * groups;
        const float* packed0 = values + row_start[rows_used[e]];
        const float* packed1 = values + row_start[rows_used[e + 1]];
        const float* packed2 = values + row_start[rows_used[e + 2]];
        const float* packed3 = values + row_start[rows_used[e + 3]];
        const __m512 w0 = _mm512_set1_ps(weight[e]), w1 = _mm512_set1_ps(weight[e + 1]);
        const __m512 w2 = _mm512_set1_ps(weight[e + 2]), w3 = _mm512_set1_ps(weight[e + 3]);
        for (int b = 0; b < blocks; b++) {
            const __mmask16 lanes = lanes_of(b);
            __m512 sum = _mm512_maskz_loadu_ps(lanes, approx + 16 * b);
            sum = _mm512_fmadd_ps(w0, expand16(bits0, groups, b, packed0), sum);
            sum = _mm512_fmadd_ps(w1, expand16(bits1, groups, b, packed1), sum);
            sum = _mm512_fmadd_ps(w2, expand16(bits2, groups, b, packed2), sum);
            sum = _mm512_fmadd_ps(w3, expand16(bits3, groups, b, packed3), sum);
            _mm512_mask_storeu_ps(approx + 16 * b, lanes, sum);
        }
    }
    for (; e < count; e++) {
        const uint8_t* row_bits = bits + static_cast<long long>(rows_used[e]) * groups;
        const float* packed = values + row_start[rows_used[e]];
        const __m512 w = _mm512_set1_ps(weight[e]);
        for (int b = 0; b < blocks; b++) {
            const __mmask16 lanes = lanes_of(b);
            const __m512 sum = _mm512_maskz_loadu_ps(lanes, approx + 16 * b);
            _mm512_mask_storeu_ps(approx + 16 * b, lanes, _mm512_fmadd_ps(w, expand16(row_bits, groups, b, packed), sum));
        }
    }
}

SPARSIFINER_AVX512 void compact_basis_combine_dense_avx512(int cols, const long long* row_start, const float* values,
                                                           const int32_t* rows_used, const float* weight, int count,
                                                           float* approx) {
    const int padded = (cols + 7) / 8 * 8;
    for (int n = 0; n < padded; n++) approx[n] = 0.f;
    auto lanes_of = [&](int n) { return cols - n >= 16 ? static_cast<__mmask16>(0xFFFF) : low_lanes(cols - n); };
    int e = 0;
    for (; e + 4 <= count; e += 4) {
        const float* row0 = values + row_start[rows_used[e]];
        const float* row1 = values + row_start[rows_used[e + 1]];
        const float* row2 = values + row_start[rows_used[e + 2]];
        const float* row3 = values + row_start[rows_used[e + 3]];
        const __m512 w0 = _mm512_set1_ps(weight[e]), w1 = _mm512_set1_ps(weight[e + 1]);
        const __m512 w2 = _mm512_set1_ps(weight[e + 2]), w3 = _mm512_set1_ps(weight[e + 3]);
        for (int n = 0; n < cols; n += 16) {
            const __mmask16 lanes = lanes_of(n);
            __m512 sum = _mm512_maskz_loadu_ps(lanes, approx + n);
            sum = _mm512_fmadd_ps(w0, _mm512_maskz_loadu_ps(lanes, row0 + n), sum);
            sum = _mm512_fmadd_ps(w1, _mm512_maskz_loadu_ps(lanes, row1 + n), sum);
            sum = _mm512_fmadd_ps(w2, _mm512_maskz_loadu_ps(lanes, row2 + n), sum);
            sum = _mm512_fmadd_ps(w3, _mm512_maskz_loadu_ps(lanes, row3 + n), sum);
            _mm512_mask_storeu_ps(approx + n, lanes, sum);
        }
    }
    for (; e < count; e++) {
        const float* row = values + row_start[rows_used[e]];
        const __m512 w = _mm512_set1_ps(weight[e]);
        for (int n = 0; n < cols; n += 16) {
            const __mmask16 lanes = lanes_of(n);
            _mm512_mask_storeu_ps(approx + n, lanes,
                                  _mm512_fmadd_ps(w, _mm512_maskz_loadu_ps(lanes, row + n), _mm512_maskz_loadu_ps(lanes, approx + n)));
        }
    }
}

}  // namespace sparsifiner
