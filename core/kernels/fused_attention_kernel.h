#pragma once
// The vector tile kernel of fused dense attention, written once over the vector vocabulary V
// (core/kernels/simd) and instantiated per ISA in fused_attention_avx2.cpp and _avx512.cpp:
// fused_attention_tile_portable's steps with register-blocked inner loops. Needs d % width == 0.
// Include only inside a target region, after the vocabulary and simd_math.h.
//
// The blocking follows the register file: 16-float vectors have 32 registers, 8-float ones 16.
//   scores: kScoreRows query rows x 2 vectors of keys per pass over d (16 accumulators with
//           AVX-512: 8 rows x 32 keys; 8 with AVX2: 4 rows x 16 keys);
//   P V:    4 query rows x kPvVecs vectors of output columns per pass over the tile's keys (16
//           accumulators with AVX-512: 64 columns; 8 with AVX2: 16 columns).
#include <cmath>

#include "core/kernels/fused_attention.h"

namespace sparsifiner {
namespace {

template <class V>
struct FusedBlocking {
    static constexpr int score_rows = V::width == 16 ? 8 : 4;  // query rows per score block
    static constexpr int score_vecs = 2;                       // key vectors per score block
    static constexpr int pv_rows = 4;                          // query rows per P V block
    static constexpr int pv_vecs = V::width == 16 ? 4 : 2;     // output vectors per P V block
};

// s[r * kFusedTileKeys + W v + lane] = q_r . K^T[:, W v + lane] for r < score_rows, v < NV.
template <class V, int NV>
inline void scores_block(const float* q, int d, const float* kt, long long n_pad, float* s) {
    constexpr int R = FusedBlocking<V>::score_rows, W = V::width;
    typename V::Vec acc[R][NV];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) acc[r][v] = V::zero();
    for (int c = 0; c < d; c++) {
        typename V::Vec k[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) k[v] = V::load(kt + c * n_pad + W * v);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            const typename V::Vec qr = V::set1(q[r * d + c]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) acc[r][v] = V::fma(qr, k[v], acc[r][v]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) V::store(s + r * kFusedTileKeys + W * v, acc[r][v]);
}

// o_r[0, W NV) = o_r * rescale_r + sum_j p_r[j] v_j[0, W NV) for R rows (o rows d apart).
template <class V, int R, int NV>
inline void pv_block(const float* p, int nk, const float* v, long long stride, float* o, int d, const float* rescale) {
    constexpr int W = V::width;
    typename V::Vec acc[R][NV];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        const typename V::Vec f = V::set1(rescale[r]);
#pragma GCC unroll 4
        for (int c = 0; c < NV; c++) acc[r][c] = V::mul(V::load(o + r * d + W * c), f);
    }
    for (int j = 0; j < nk; j++) {
        typename V::Vec vj[NV];
#pragma GCC unroll 4
        for (int c = 0; c < NV; c++) vj[c] = V::load(v + j * stride + W * c);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const typename V::Vec pr = V::set1(p[r * kFusedTileKeys + j]);
#pragma GCC unroll 4
            for (int c = 0; c < NV; c++) acc[r][c] = V::fma(pr, vj[c], acc[r][c]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int c = 0; c < NV; c++) V::store(o + r * d + W * c, acc[r][c]);
}

// The last `vecs` (< pv_vecs) output vectors of R rows: the widest block that fits.
template <class V, int R, int NV>
inline void pv_tail(int vecs, const float* p, int nk, const float* v, long long stride, float* o, int d,
                    const float* rescale) {
    if constexpr (NV > 0) {
        if (vecs == NV)
            pv_block<V, R, NV>(p, nk, v, stride, o, d, rescale);
        else
            pv_tail<V, R, NV - 1>(vecs, p, nk, v, stride, o, d, rescale);
    }
}

// All output columns of R rows, in blocks of pv_vecs vectors, then one narrower block.
template <class V, int R>
void pv_rows(const float* p, int nk, const float* v, long long stride, float* o, int d, const float* rescale) {
    constexpr int NV = FusedBlocking<V>::pv_vecs, W = V::width;
    int c0 = 0;
    for (; c0 + NV * W <= d; c0 += NV * W) pv_block<V, R, NV>(p, nk, v + c0, stride, o + c0, d, rescale);
    pv_tail<V, R, NV - 1>((d - c0) / W, p, nk, v + c0, stride, o + c0, d, rescale);
}

template <class V>
void fused_attention_tile_vector(const FusedAttentionArgs& a, int b, int h, int row_begin, int row_end,
                                 float* scratch) {
    using Vec = typename V::Vec;
    constexpr int W = V::width, kRows = FusedBlocking<V>::score_rows, kPvRows = FusedBlocking<V>::pv_rows;
    const int N = a.N, d = a.d, D = a.H * a.d, rows = row_end - row_begin;
    const int rows_padded = (rows + kRows - 1) / kRows * kRows;
    const long long stride = 3LL * D;
    const float* image = a.qkv + static_cast<long long>(b) * N * stride;
    const float* kt = a.keys_t + (static_cast<long long>(b) * a.H + h) * d * a.n_pad;
    const float* values = image + 2 * D + h * d;
    const FusedScratch L = fused_scratch_layout(d);
    float *q = scratch + L.q, *scores = scratch + L.scores, *acc = scratch + L.acc;
    float *row_max = scratch + L.max, *row_sum = scratch + L.sum, *rescale = scratch + L.rescale;

    const Vec scale = V::set1(1.0f / std::sqrt(static_cast<float>(d)));
    for (int i = 0; i < rows_padded; i++)
        for (int c = 0; c < d; c += W) {
            const Vec qi = i < rows ? V::load(image + (row_begin + i) * stride + h * d + c) : V::zero();
            V::store(q + i * d + c, V::mul(qi, scale));
            V::store(acc + i * d + c, V::zero());
        }
    for (int i = 0; i < rows; i++) row_max[i] = -INFINITY, row_sum[i] = 0.f;

    for (int kb = 0; kb < N; kb += kFusedTileKeys) {
        const int nk = N - kb < kFusedTileKeys ? N - kb : kFusedTileKeys;
        const int nk_padded = (nk + W - 1) / W * W;  // within n_pad: the zero keys past N
        const float* kt_tile = kt + kb;
        for (int i = 0; i < rows_padded; i += kRows) {
            int j = 0;
            for (; j + 2 * W <= nk_padded; j += 2 * W)
                scores_block<V, 2>(q + i * d, d, kt_tile + j, a.n_pad, scores + i * kFusedTileKeys + j);
            if (j < nk_padded) scores_block<V, 1>(q + i * d, d, kt_tile + j, a.n_pad, scores + i * kFusedTileKeys + j);
        }
        // Online softmax per row; the padding keys [nk, nk_padded) become -inf, so e^(s - m) is 0.
        for (int i = 0; i < rows; i++) {
            float* s = scores + i * kFusedTileKeys;
            const float new_max = std::fmax(row_max[i], row_max_of<V>(s, nk));
            const float tile_sum = exp_and_sum<V>(s, nk, new_max);
            rescale[i] = std::exp(row_max[i] - new_max);
            row_sum[i] = row_sum[i] * rescale[i] + tile_sum;
            row_max[i] = new_max;
        }
        const float* v_tile = values + kb * stride;
        int i = 0;
        for (; i + kPvRows <= rows; i += kPvRows)
            pv_rows<V, kPvRows>(scores + i * kFusedTileKeys, nk, v_tile, stride, acc + i * d, d, rescale + i);
        for (; i < rows; i++) pv_rows<V, 1>(scores + i * kFusedTileKeys, nk, v_tile, stride, acc + i * d, d, rescale + i);
    }
    for (int i = 0; i < rows; i++) {
        float* o = a.out + (static_cast<long long>(b) * N + row_begin + i) * D + h * d;
        const Vec inv = V::set1(1.0f / row_sum[i]);
        for (int c = 0; c < d; c += W) V::store(o + c, V::mul(V::load(acc + i * d + c), inv));
    }
}

}  // namespace
}  // namespace sparsifiner
