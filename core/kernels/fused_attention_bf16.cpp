// The bf16 fused dense attention core (fused_attention_bf16.h). fused_attention_bf16_fits runs on
// any CPU; everything after the target switch below may use AVX-512 with AVX512_BF16 and runs only
// after fits() said the CPU has them.
#include "core/kernels/fused_attention_bf16.h"

#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/kernels/bf16_convert.h"
#include "core/kernels/fused_attention.h"
#include "core/kernels/head_rows.h"
#include "core/platform/cpu_info.h"
#include "core/platform/thread_scratch.h"

namespace sparsifiner {

bool fused_attention_bf16_fits(int d) {
    static const bool native = cpu_has_avx512_bf16();
    return native && d > 0 && d % 16 == 0 && d <= 1024;
}

}  // namespace sparsifiner

// From here on: AVX-512 (F, BW, VL, DQ) with AVX512_BF16 (vdpbf16ps).
#include "core/kernels/simd/simd_target_avx512.h"
#pragma GCC target("avx512bf16")
#include <immintrin.h>

#include "core/kernels/simd/simd_avx512.h"
#include "core/kernels/simd/simd_math.h"

namespace sparsifiner {

namespace {

constexpr int kRows = 8;    // query rows per score block
constexpr int kPvRows = 4;  // query rows per P V block
constexpr int kPairs = kFusedTileKeys / 2;

size_t pad16(size_t n) { return (n + 15) / 16 * 16; }

// One bf16 pair as the 32-bit lane vdpbf16ps reads: `low` is the first value of the pair.
uint32_t pair_of(uint16_t low, uint16_t high) { return (uint32_t)low | ((uint32_t)high << 16); }

// Per-thread scratch, offsets in 32-bit words (multiples of 16).
struct Bf16Scratch {
    size_t q;       // [kFusedTileRows, d/2] pairs: the tile's query rows times d^-0.5
    size_t scores;  // [kFusedTileRows, kFusedTileKeys] f32 scores, then probabilities
    size_t probs;   // [kFusedTileRows, kPairs] pairs: the probabilities in bf16
    size_t acc;     // [kFusedTileRows, d] f32 unnormalised output rows
    size_t max, sum, rescale;
    size_t total;
};

Bf16Scratch scratch_layout(int d) {
    Bf16Scratch s;
    s.q = 0;
    s.scores = s.q + pad16((size_t)kFusedTileRows * d / 2);
    s.probs = s.scores + (size_t)kFusedTileRows * kFusedTileKeys;
    s.acc = s.probs + (size_t)kFusedTileRows * kPairs;
    s.max = s.acc + pad16((size_t)kFusedTileRows * d);
    s.sum = s.max + pad16(kFusedTileRows);
    s.rescale = s.sum + pad16(kFusedTileRows);
    s.total = s.rescale + pad16(kFusedTileRows);
    return s;
}

struct Packed {
    const float* qkv;
    const uint32_t* keys;    // [B, H, d/2, n_pad]
    const uint32_t* values;  // [B, H, n_pad/2, d]
    float* out;
    int B, N, H, d, n_pad;
};

// s[r * kFusedTileKeys + 16v + lane] = q_r . k_(16v + lane) for r < kRows, v < NV.
template <int NV>
inline void scores_block(const uint32_t* q, int d_pairs, const uint32_t* kp, long long n_pad,
                                                 float* s) {
    __m512 acc[kRows][NV];
#pragma GCC unroll 8
    for (int r = 0; r < kRows; r++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_ps();
    for (int c = 0; c < d_pairs; c++) {
        __m512bh k[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) k[v] = (__m512bh)_mm512_loadu_si512(kp + c * n_pad + 16 * v);
#pragma GCC unroll 8
        for (int r = 0; r < kRows; r++) {
            const __m512bh qr = (__m512bh)_mm512_set1_epi32((int)q[r * d_pairs + c]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], qr, k[v]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < kRows; r++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) _mm512_storeu_ps(s + r * kFusedTileKeys + 16 * v, acc[r][v]);
}

// o_r[0, 16NV) = o_r * rescale_r + sum_j p_r[j] v_j[0, 16NV) for R rows, over key pairs.
template <int R, int NV>
inline void pv_block(const uint32_t* p, int pairs, const uint32_t* v, int d, float* o,
                                             const float* rescale) {
    __m512 acc[R][NV];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        const __m512 f = _mm512_set1_ps(rescale[r]);
#pragma GCC unroll 4
        for (int c = 0; c < NV; c++) acc[r][c] = _mm512_mul_ps(_mm512_loadu_ps(o + r * d + 16 * c), f);
    }
    for (int j = 0; j < pairs; j++) {
        __m512bh vj[NV];
#pragma GCC unroll 4
        for (int c = 0; c < NV; c++) vj[c] = (__m512bh)_mm512_loadu_si512(v + (long long)j * d + 16 * c);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const __m512bh pr = (__m512bh)_mm512_set1_epi32((int)p[r * kPairs + j]);
#pragma GCC unroll 4
            for (int c = 0; c < NV; c++) acc[r][c] = _mm512_dpbf16_ps(acc[r][c], pr, vj[c]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int c = 0; c < NV; c++) _mm512_storeu_ps(o + r * d + 16 * c, acc[r][c]);
}

template <int R>
void pv_rows(const uint32_t* p, int pairs, const uint32_t* v, int d, float* o,
                                     const float* rescale) {
    int c0 = 0;
    for (; c0 + 64 <= d; c0 += 64) pv_block<R, 4>(p, pairs, v + c0, d, o + c0, rescale);
    switch ((d - c0) / 16) {
        case 3: pv_block<R, 3>(p, pairs, v + c0, d, o + c0, rescale); break;
        case 2: pv_block<R, 2>(p, pairs, v + c0, d, o + c0, rescale); break;
        case 1: pv_block<R, 1>(p, pairs, v + c0, d, o + c0, rescale); break;
        default: break;
    }
}

void tile_bf16(const Packed& a, int b, int h, int row_begin, int row_end, uint32_t* scratch) {
    const int N = a.N, d = a.d, D = a.H * a.d, rows = row_end - row_begin, d_pairs = d / 2;
    const int rows_padded = (rows + kRows - 1) / kRows * kRows;
    const long long stride = 3LL * D;
    const float* image = a.qkv + (long long)b * N * stride;
    const uint32_t* keys = a.keys + ((long long)b * a.H + h) * d_pairs * a.n_pad;
    const uint32_t* values = a.values + ((long long)b * a.H + h) * (a.n_pad / 2) * d;
    const Bf16Scratch L = scratch_layout(d);
    uint32_t *q = scratch + L.q, *probs = scratch + L.probs;
    float* scores = reinterpret_cast<float*>(scratch + L.scores);
    float* acc = reinterpret_cast<float*>(scratch + L.acc);
    float* row_max = reinterpret_cast<float*>(scratch + L.max);
    float* row_sum = reinterpret_cast<float*>(scratch + L.sum);
    float* rescale = reinterpret_cast<float*>(scratch + L.rescale);

    const __m512 scale = _mm512_set1_ps(1.0f / std::sqrt((float)d));
    for (int i = 0; i < rows_padded; i++)
        for (int c = 0; c < d; c += 16) {
            // 16 query values -> 8 pairs, in order.
            const float* src = image + (row_begin + i) * stride + h * d + c;
            const __m512 x = i < rows ? _mm512_mul_ps(_mm512_loadu_ps(src), scale) : _mm512_setzero_ps();
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + i * d_pairs + c / 2), (__m256i)_mm512_cvtneps_pbh(x));
        }
    for (int i = 0; i < rows_padded; i++)
        for (int c = 0; c < d; c += 16) _mm512_storeu_ps(acc + i * d + c, _mm512_setzero_ps());
    for (int i = 0; i < rows; i++) row_max[i] = -INFINITY, row_sum[i] = 0.f;

    for (int kb = 0; kb < N; kb += kFusedTileKeys) {
        const int nk = N - kb < kFusedTileKeys ? N - kb : kFusedTileKeys;
        const int nk16 = (nk + 15) / 16 * 16;  // within n_pad: zero keys past N
        for (int i = 0; i < rows_padded; i += kRows) {
            int j = 0;
            for (; j + 32 <= nk16; j += 32)
                scores_block<2>(q + i * d_pairs, d_pairs, keys + kb + j, a.n_pad, scores + i * kFusedTileKeys + j);
            if (j < nk16)
                scores_block<1>(q + i * d_pairs, d_pairs, keys + kb + j, a.n_pad, scores + i * kFusedTileKeys + j);
        }
        // Online softmax per row, as in the f32 kernel; padding keys read as -inf, so e^(s - m) = 0.
        const __mmask16 last = (__mmask16)(nk % 16 ? (1u << (nk % 16)) - 1 : 0xFFFF);
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
                const __m512 e = exp_nonpositive<SimdAvx512>(_mm512_sub_ps(x, mv));
                _mm512_storeu_ps(s + j, e);
                sum = _mm512_add_ps(sum, e);
            }
            // The probabilities in bf16 pairs for P V; the zeros past nk pad the last pair.
            for (int j = 0; j < nk16; j += 32) {
                const __m512 lo = _mm512_loadu_ps(s + j);
                const __m512 hi = j + 16 < nk16 ? _mm512_loadu_ps(s + j + 16) : _mm512_setzero_ps();
                const __m512i packed = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
                if (j + 16 < nk16) _mm512_storeu_si512(probs + i * kPairs + j / 2, packed);
                else _mm256_storeu_si256((__m256i*)(probs + i * kPairs + j / 2), _mm512_castsi512_si256(packed));
            }
            rescale[i] = std::exp(row_max[i] - new_max);
            row_sum[i] = row_sum[i] * rescale[i] + _mm512_reduce_add_ps(sum);
            row_max[i] = new_max;
        }
        const int pairs = (nk + 1) / 2;
        const uint32_t* v_tile = values + (long long)(kb / 2) * d;
        int i = 0;
        for (; i + kPvRows <= rows; i += kPvRows)
            pv_rows<kPvRows>(probs + i * kPairs, pairs, v_tile, d, acc + i * d, rescale + i);
        for (; i < rows; i++) pv_rows<1>(probs + i * kPairs, pairs, v_tile, d, acc + i * d, rescale + i);
    }
    for (int i = 0; i < rows; i++) {
        float* o = a.out + ((long long)b * N + row_begin + i) * D + h * d;
        const __m512 inv = _mm512_set1_ps(1.0f / row_sum[i]);
        for (int c = 0; c < d; c += 16) _mm512_storeu_ps(o + c, _mm512_mul_ps(_mm512_loadu_ps(acc + i * d + c), inv));
    }
}

}  // namespace

void fused_attention_forward_bf16(const float* qkv, float* out, int B, int N, int H, int d) {
    if (B <= 0 || N <= 0 || H <= 0) return;
    const int D = H * d, n_pad = (int)pad16((size_t)N), d_pairs = d / 2;
    const size_t key_words = (size_t)B * H * d_pairs * n_pad, value_words = (size_t)B * H * (n_pad / 2) * d;
    uint32_t* packed = reinterpret_cast<uint32_t*>(thread_scratch(key_words + value_words, ScratchSlot::prepared));
    uint32_t *keys = packed, *values = packed + key_words;
    // K as pairs along d (keys along the fast axis), V as pairs of consecutive keys; the padding
    // keys are zero, and their probabilities are exactly 0.
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            const float* image = qkv + (long long)b * N * 3 * D;
            uint32_t* kp = keys + ((long long)b * H + h) * d_pairs * n_pad;
            uint32_t* vp = values + ((long long)b * H + h) * (n_pad / 2) * d;
            uint16_t row[1024];  // one token's d values in bf16 (d is at most 1024 here)
            for (int j = 0; j < n_pad; j++) {
                if (j < N) bf16_from_f32(row, image + (long long)j * 3 * D + D + h * d, d);
                else std::memset(row, 0, sizeof(uint16_t) * d);
                for (int c = 0; c < d_pairs; c++) kp[(long long)c * n_pad + j] = pair_of(row[2 * c], row[2 * c + 1]);
            }
            for (int j = 0; j < n_pad; j += 2) {
                uint16_t first[1024], second[1024];
                if (j < N) bf16_from_f32(first, image + (long long)j * 3 * D + 2 * D + h * d, d);
                else std::memset(first, 0, sizeof(uint16_t) * d);
                if (j + 1 < N) bf16_from_f32(second, image + (long long)(j + 1) * 3 * D + 2 * D + h * d, d);
                else std::memset(second, 0, sizeof(uint16_t) * d);
                uint32_t* dst = vp + (long long)(j / 2) * d;
                for (int c = 0; c < d; c++) dst[c] = pair_of(first[c], second[c]);
            }
        }
    const Packed args{qkv, keys, values, out, B, N, H, d, n_pad};
    const size_t scratch_words = scratch_layout(d).total;
    for_each_head_rows(B, H, N, kFusedTileRows, [&](int b, int h, int begin, int end) {
        tile_bf16(args, b, h, begin, end, reinterpret_cast<uint32_t*>(thread_scratch(scratch_words)));
    });
}

}  // namespace sparsifiner
