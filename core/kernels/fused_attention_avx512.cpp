// AVX-512 (F, BW, VL, DQ) tile kernel of fused dense attention: fused_attention_tile_portable's
// steps with register-blocked inner loops. Needs d % 16 == 0. Compiled with per-function target
// attributes; the dispatcher calls it only when the CPU has them.
//   scores: 8 query rows x 32 keys (16 accumulators) per pass over d: per head-dim column two
//           loads of K^T and eight broadcasts of q feed sixteen FMAs;
//   P V:    4 query rows x 64 output columns (16 accumulators) per pass over the tile's keys:
//           per key four loads of its V row and four broadcasts of p feed sixteen FMAs.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <cmath>

#include "core/kernels/fused_attention.h"
#include "core/kernels/simd_exp.h"

namespace sparsifiner {

namespace {

constexpr int kRows = 8;    // query rows per score block (the q tile is padded to a multiple)
constexpr int kPvRows = 4;  // query rows per P V block

// s[r * kFusedTileKeys + 16v + lane] = q_r . K^T[:, 16v + lane] for r < kRows, v < NV.
template <int NV>
SPARSIFINER_AVX512 inline void scores_block(const float* q, int d, const float* kt, long long n_pad, float* s) {
    __m512 acc[kRows][NV];
#pragma GCC unroll 8
    for (int r = 0; r < kRows; r++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_ps();
    for (int c = 0; c < d; c++) {
        __m512 k[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) k[v] = _mm512_loadu_ps(kt + c * n_pad + 16 * v);
#pragma GCC unroll 8
        for (int r = 0; r < kRows; r++) {
            const __m512 qr = _mm512_set1_ps(q[r * d + c]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) acc[r][v] = _mm512_fmadd_ps(qr, k[v], acc[r][v]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < kRows; r++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) _mm512_storeu_ps(s + r * kFusedTileKeys + 16 * v, acc[r][v]);
}

// o_r[0, 16NV) = o_r * rescale_r + sum_j p_r[j] v_j[0, 16NV) for R rows (o rows d apart).
template <int R, int NV>
SPARSIFINER_AVX512 inline void pv_block(const float* p, int nk, const float* v, long long stride, float* o, int d,
                                        const float* rescale) {
    __m512 acc[R][NV];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        const __m512 f = _mm512_set1_ps(rescale[r]);
#pragma GCC unroll 4
        for (int c = 0; c < NV; c++) acc[r][c] = _mm512_mul_ps(_mm512_loadu_ps(o + r * d + 16 * c), f);
    }
    for (int j = 0; j < nk; j++) {
        __m512 vj[NV];
#pragma GCC unroll 4
        for (int c = 0; c < NV; c++) vj[c] = _mm512_loadu_ps(v + j * stride + 16 * c);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const __m512 pr = _mm512_set1_ps(p[r * kFusedTileKeys + j]);
#pragma GCC unroll 4
            for (int c = 0; c < NV; c++) acc[r][c] = _mm512_fmadd_ps(pr, vj[c], acc[r][c]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int c = 0; c < NV; c++) _mm512_storeu_ps(o + r * d + 16 * c, acc[r][c]);
}

// All output columns of R rows, in chunks of up to 64 columns (the last one 16, 32 or 48 wide).
template <int R>
SPARSIFINER_AVX512 void pv_rows(const float* p, int nk, const float* v, long long stride, float* o, int d,
                                const float* rescale) {
    int c0 = 0;
    for (; c0 + 64 <= d; c0 += 64) pv_block<R, 4>(p, nk, v + c0, stride, o + c0, d, rescale);
    switch ((d - c0) / 16) {
        case 3: pv_block<R, 3>(p, nk, v + c0, stride, o + c0, d, rescale); break;
        case 2: pv_block<R, 2>(p, nk, v + c0, stride, o + c0, d, rescale); break;
        case 1: pv_block<R, 1>(p, nk, v + c0, stride, o + c0, d, rescale); break;
        default: break;
    }
}

}  // namespace

SPARSIFINER_AVX512 void fused_attention_tile_avx512(const FusedAttentionArgs& a, int b, int h, int row_begin,
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

    const __m512 scale = _mm512_set1_ps(1.0f / std::sqrt(static_cast<float>(d)));
    for (int i = 0; i < rows_padded; i++)
        for (int c = 0; c < d; c += 16) {
            const __m512 qi = i < rows ? _mm512_loadu_ps(image + (row_begin + i) * stride + h * d + c)
                                       : _mm512_setzero_ps();
            _mm512_storeu_ps(q + i * d + c, _mm512_mul_ps(qi, scale));
            _mm512_storeu_ps(acc + i * d + c, _mm512_setzero_ps());
        }
    for (int i = 0; i < rows; i++) row_max[i] = -INFINITY, row_sum[i] = 0.f;

    for (int kb = 0; kb < N; kb += kFusedTileKeys) {
        const int nk = N - kb < kFusedTileKeys ? N - kb : kFusedTileKeys;
        const int nk16 = (nk + 15) / 16 * 16;  // within n_pad: the zero keys past N
        const float* kt_tile = kt + kb;
        for (int i = 0; i < rows_padded; i += kRows) {
            int j = 0;
            for (; j + 32 <= nk16; j += 32)
                scores_block<2>(q + i * d, d, kt_tile + j, a.n_pad, scores + i * kFusedTileKeys + j);
            if (j < nk16) scores_block<1>(q + i * d, d, kt_tile + j, a.n_pad, scores + i * kFusedTileKeys + j);
        }
        // Online softmax per row; the padding keys [nk, nk16) read as -inf, so e^(s - m) is 0.
        const __mmask16 last = static_cast<__mmask16>(nk % 16 ? (1u << (nk % 16)) - 1 : 0xFFFF);
        const __m512 minus_inf = _mm512_set1_ps(-INFINITY);
        for (int i = 0; i < rows; i++) {
            float* s = scores + i * kFusedTileKeys;
            __m512 m = minus_inf;
            for (int j = 0; j < nk16; j += 16)
                m = _mm512_max_ps(m, _mm512_mask_loadu_ps(minus_inf, j + 16 < nk16 ? 0xFFFF : last, s + j));
            const float new_max = std::fmax(row_max[i], _mm512_reduce_max_ps(m));
            const __m512 mv = _mm512_set1_ps(new_max);
            __m512 sum = _mm512_setzero_ps();
            for (int j = 0; j < nk16; j += 16) {
                const __m512 x = _mm512_mask_loadu_ps(minus_inf, j + 16 < nk16 ? 0xFFFF : last, s + j);
                const __m512 e = exp_avx512(_mm512_sub_ps(x, mv));
                _mm512_storeu_ps(s + j, e);
                sum = _mm512_add_ps(sum, e);
            }
            rescale[i] = std::exp(row_max[i] - new_max);
            row_sum[i] = row_sum[i] * rescale[i] + _mm512_reduce_add_ps(sum);
            row_max[i] = new_max;
        }
        const float* v_tile = values + kb * stride;
        int i = 0;
        for (; i + kPvRows <= rows; i += kPvRows)
            pv_rows<kPvRows>(scores + i * kFusedTileKeys, nk, v_tile, stride, acc + i * d, d, rescale + i);
        for (; i < rows; i++) pv_rows<1>(scores + i * kFusedTileKeys, nk, v_tile, stride, acc + i * d, d, rescale + i);
    }
    for (int i = 0; i < rows; i++) {
        float* o = a.out + (static_cast<long long>(b) * N + row_begin + i) * D + h * d;
        const __m512 inv = _mm512_set1_ps(1.0f / row_sum[i]);
        for (int c = 0; c < d; c += 16) _mm512_storeu_ps(o + c, _mm512_mul_ps(_mm512_loadu_ps(acc + i * d + c), inv));
    }
}

}  // namespace sparsifiner
