// AVX2 + FMA tile kernel of fused dense attention: fused_attention_tile_portable's steps with
// register-blocked inner loops sized for 16 vector registers. Needs d % 8 == 0. Every function
// carries target("avx2,fma"); the dispatcher calls it only when the CPU has both.
//   scores: 4 query rows x 16 keys (8 accumulators) per pass over d;
//   P V:    4 query rows x 16 output columns (8 accumulators) per pass over the tile's keys.
#include <immintrin.h>

#include <cmath>

#include "core/kernels/fused_attention.h"
#include "core/kernels/simd_exp.h"

namespace sparsifiner {

namespace {

constexpr int kRows = 4;  // query rows per score block and per P V block

template <int NV>
SPARSIFINER_AVX2 inline void scores_block(const float* q, int d, const float* kt, long long n_pad, float* s) {
    __m256 acc[kRows][NV];
#pragma GCC unroll 4
    for (int r = 0; r < kRows; r++)
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++) acc[r][v] = _mm256_setzero_ps();
    for (int c = 0; c < d; c++) {
        __m256 k[NV];
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++) k[v] = _mm256_loadu_ps(kt + c * n_pad + 8 * v);
#pragma GCC unroll 4
        for (int r = 0; r < kRows; r++) {
            const __m256 qr = _mm256_broadcast_ss(q + r * d + c);
#pragma GCC unroll 2
            for (int v = 0; v < NV; v++) acc[r][v] = _mm256_fmadd_ps(qr, k[v], acc[r][v]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < kRows; r++)
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++) _mm256_storeu_ps(s + r * kFusedTileKeys + 8 * v, acc[r][v]);
}

template <int R, int NV>
SPARSIFINER_AVX2 inline void pv_block(const float* p, int nk, const float* v, long long stride, float* o, int d,
                                      const float* rescale) {
    __m256 acc[R][NV];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        const __m256 f = _mm256_set1_ps(rescale[r]);
#pragma GCC unroll 2
        for (int c = 0; c < NV; c++) acc[r][c] = _mm256_mul_ps(_mm256_loadu_ps(o + r * d + 8 * c), f);
    }
    for (int j = 0; j < nk; j++) {
        __m256 vj[NV];
#pragma GCC unroll 2
        for (int c = 0; c < NV; c++) vj[c] = _mm256_loadu_ps(v + j * stride + 8 * c);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const __m256 pr = _mm256_broadcast_ss(p + r * kFusedTileKeys + j);
#pragma GCC unroll 2
            for (int c = 0; c < NV; c++) acc[r][c] = _mm256_fmadd_ps(pr, vj[c], acc[r][c]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 2
        for (int c = 0; c < NV; c++) _mm256_storeu_ps(o + r * d + 8 * c, acc[r][c]);
}

template <int R>
SPARSIFINER_AVX2 void pv_rows(const float* p, int nk, const float* v, long long stride, float* o, int d,
                              const float* rescale) {
    int c0 = 0;
    for (; c0 + 16 <= d; c0 += 16) pv_block<R, 2>(p, nk, v + c0, stride, o + c0, d, rescale);
    if (c0 < d) pv_block<R, 1>(p, nk, v + c0, stride, o + c0, d, rescale);
}

}  // namespace

SPARSIFINER_AVX2 void fused_attention_tile_avx2(const FusedAttentionArgs& a, int b, int h, int row_begin,
                                                int row_end, float* scratch) {
    const int N = a.N, d = a.d, D = a.H * a.d, rows = row_end - row_begin;
    const int rows_padded = (rows + kRows - 1) / kRows * kRows;
    const long long stride = 3LL * D;
    const float* image = a.qkv + static_cast<long long>(b) * N * stride;
    const float* kt = a.keys_t + (static_cast<long long>(b) * a.H + h) * d * a.n_pad;
    const float* values = image + 2 * D + h * d;
    const FusedScratch L = fused_scratch_layout(d);
    float *q = scratch + L.q, *scores = scratch + L.scores, *acc = scratch + L.acc;
    float *row_max = scratch + L.max, *row_sum = scratch + L.sum, *rescale = scratch + L.rescale;

    const __m256 scale = _mm256_set1_ps(1.0f / std::sqrt(static_cast<float>(d)));
    for (int i = 0; i < rows_padded; i++)
        for (int c = 0; c < d; c += 8) {
            const __m256 qi = i < rows ? _mm256_loadu_ps(image + (row_begin + i) * stride + h * d + c)
                                       : _mm256_setzero_ps();
            _mm256_storeu_ps(q + i * d + c, _mm256_mul_ps(qi, scale));
            _mm256_storeu_ps(acc + i * d + c, _mm256_setzero_ps());
        }
    for (int i = 0; i < rows; i++) row_max[i] = -INFINITY, row_sum[i] = 0.f;

    for (int kb = 0; kb < N; kb += kFusedTileKeys) {
        const int nk = N - kb < kFusedTileKeys ? N - kb : kFusedTileKeys;
        const int nk8 = (nk + 7) / 8 * 8;  // within n_pad: the zero keys past N
        const float* kt_tile = kt + kb;
        for (int i = 0; i < rows_padded; i += kRows) {
            int j = 0;
            for (; j + 16 <= nk8; j += 16)
                scores_block<2>(q + i * d, d, kt_tile + j, a.n_pad, scores + i * kFusedTileKeys + j);
            if (j < nk8) scores_block<1>(q + i * d, d, kt_tile + j, a.n_pad, scores + i * kFusedTileKeys + j);
        }
        const __m256 minus_inf = _mm256_set1_ps(-INFINITY);
        for (int i = 0; i < rows; i++) {
            float* s = scores + i * kFusedTileKeys;
            for (int j = nk; j < nk8; j++) s[j] = -INFINITY;  // padding keys: e^(s - m) = 0
            __m256 m = minus_inf;
            for (int j = 0; j < nk8; j += 8) m = _mm256_max_ps(m, _mm256_loadu_ps(s + j));
            const float new_max = std::fmax(row_max[i], hmax_avx2(m));
            const __m256 mv = _mm256_set1_ps(new_max);
            __m256 sum = _mm256_setzero_ps();
            for (int j = 0; j < nk8; j += 8) {
                const __m256 e = exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(s + j), mv));
                _mm256_storeu_ps(s + j, e);
                sum = _mm256_add_ps(sum, e);
            }
            rescale[i] = std::exp(row_max[i] - new_max);
            row_sum[i] = row_sum[i] * rescale[i] + hsum_avx2(sum);
            row_max[i] = new_max;
        }
        const float* v_tile = values + kb * stride;
        int i = 0;
        for (; i + kRows <= rows; i += kRows)
            pv_rows<kRows>(scores + i * kFusedTileKeys, nk, v_tile, stride, acc + i * d, d, rescale + i);
        for (; i < rows; i++) pv_rows<1>(scores + i * kFusedTileKeys, nk, v_tile, stride, acc + i * d, d, rescale + i);
    }
    for (int i = 0; i < rows; i++) {
        float* o = a.out + (static_cast<long long>(b) * N + row_begin + i) * D + h * d;
        const __m256 inv = _mm256_set1_ps(1.0f / row_sum[i]);
        for (int c = 0; c < d; c += 8) _mm256_storeu_ps(o + c, _mm256_mul_ps(_mm256_loadu_ps(acc + i * d + c), inv));
    }
}

}  // namespace sparsifiner
