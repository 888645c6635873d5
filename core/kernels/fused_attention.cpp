// The dispatcher, the key transpose, the cls row's probabilities and the portable tile kernel of
// fused dense attention. The AVX2 and AVX-512 tile kernels live in fused_attention_avx2.cpp and
// fused_attention_avx512.cpp and follow the portable kernel step by step.
#include "core/kernels/fused_attention.h"
#include "core/kernels/head_rows.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "core/platform/thread_scratch.h"

namespace sparsifiner {

namespace {

size_t pad16(size_t floats) { return (floats + 15) / 16 * 16; }

using TileKernel = void (*)(const FusedAttentionArgs&, int, int, int, int, float*);
TileKernel kernel_for(Isa isa) {
    switch (isa) {
        case Isa::avx512: return fused_attention_tile_avx512;
        case Isa::avx2: return fused_attention_tile_avx2;
        default: return fused_attention_tile_portable;
    }
}

// Row 0's probabilities of every image and head: one more pass over the keys (N d MACs per head,
// against the N^2 d of the attention itself) instead of keeping the scores.
void cls_probs_compute(const FusedAttentionArgs& a, float* cls_probs) {
    const int N = a.N, d = a.d, D = a.H * a.d;
    const float scale = 1.0f / std::sqrt(static_cast<float>(d));
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < a.B; b++)
        for (int h = 0; h < a.H; h++) {
            const float* q = a.qkv + static_cast<long long>(b) * N * 3 * D + h * d;
            const float* kt = a.keys_t + (static_cast<long long>(b) * a.H + h) * d * a.n_pad;
            float* p = cls_probs + (static_cast<long long>(b) * a.H + h) * N;
            for (int j = 0; j < N; j++) p[j] = 0.f;
            for (int c = 0; c < d; c++)
                for (int j = 0; j < N; j++) p[j] += q[c] * kt[static_cast<long long>(c) * a.n_pad + j];
            float max_score = -INFINITY;
            for (int j = 0; j < N; j++) max_score = std::fmax(max_score, p[j] * scale);
            float sum = 0.f;
            for (int j = 0; j < N; j++) sum += (p[j] = std::exp(p[j] * scale - max_score));
            for (int j = 0; j < N; j++) p[j] /= sum;
        }
}

}  // namespace

bool fused_attention_isa_fits(Isa isa, int d) {
    switch (isa) {
        case Isa::avx512: return d % 16 == 0;
        case Isa::avx2: return d % 8 == 0;
        default: return true;
    }
}

Isa fused_attention_isa_best(int d) {
    for (Isa isa : {Isa::avx512, Isa::avx2})
        if (isa <= isa_best() && fused_attention_isa_fits(isa, d)) return isa;
    return Isa::portable;
}

FusedScratch fused_scratch_layout(int d) {
    FusedScratch s;
    s.q = 0;
    s.scores = s.q + pad16(static_cast<size_t>(kFusedTileRows) * d);
    s.acc = s.scores + static_cast<size_t>(kFusedTileRows) * kFusedTileKeys;
    s.max = s.acc + pad16(static_cast<size_t>(kFusedTileRows) * d);
    s.sum = s.max + pad16(kFusedTileRows);
    s.rescale = s.sum + pad16(kFusedTileRows);
    s.total = s.rescale + pad16(kFusedTileRows);
    return s;
}

void fused_attention_forward_isa(Isa isa, const float* qkv, float* out, float* cls_probs, int B, int N,
                                 int H, int d) {
    if (B <= 0 || N <= 0 || H <= 0 || d <= 0) return;
    if (!isa_supported(isa))
        throw std::invalid_argument(std::string("fused attention: this CPU cannot run the ") + isa_name(isa) +
                                    " kernel");
    if (!fused_attention_isa_fits(isa, d))
        throw std::invalid_argument(std::string("fused attention: the ") + isa_name(isa) +
                                    " kernel has no head dimension " + std::to_string(d));
    const int D = H * d, n_pad = static_cast<int>(pad16(static_cast<size_t>(N)));
    float* keys_t = thread_scratch(static_cast<size_t>(B) * H * d * n_pad, ScratchSlot::prepared);
    // K of each image and head transposed, the padding keys zero (their scores are then exactly 0,
    // and the kernels mask them out of the softmax).
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            const float* keys = qkv + static_cast<long long>(b) * N * 3 * D + D + h * d;
            float* kt = keys_t + (static_cast<long long>(b) * H + h) * d * n_pad;
            for (int c = 0; c < d; c++) {
                float* row = kt + static_cast<long long>(c) * n_pad;
                for (int j = 0; j < N; j++) row[j] = keys[static_cast<long long>(j) * 3 * D + c];
                for (int j = N; j < n_pad; j++) row[j] = 0.f;
            }
        }
    const FusedAttentionArgs args{qkv, keys_t, out, B, N, H, d, n_pad};
    const TileKernel kernel = kernel_for(isa);
    const size_t scratch_floats = fused_scratch_layout(d).total;
    for_each_head_rows(B, H, N, kFusedTileRows, [&](int b, int h, int begin, int end) {
        kernel(args, b, h, begin, end, thread_scratch(scratch_floats));
    });
    if (cls_probs) cls_probs_compute(args, cls_probs);
}

void fused_attention_forward(const float* qkv, float* out, float* cls_probs, int B, int N, int H, int d) {
    fused_attention_forward_isa(fused_attention_isa_best(d), qkv, out, cls_probs, B, N, H, d);
}

// The reference tile kernel: plain loops, std::exp.
void fused_attention_tile_portable(const FusedAttentionArgs& a, int b, int h, int row_begin, int row_end,
                                   float* scratch) {
    const int N = a.N, d = a.d, D = a.H * a.d, rows = row_end - row_begin;
    const long long stride = 3LL * D;
    const float scale = 1.0f / std::sqrt(static_cast<float>(d));
    const float* image = a.qkv + static_cast<long long>(b) * N * stride;
    const float* kt = a.keys_t + (static_cast<long long>(b) * a.H + h) * d * a.n_pad;
    const FusedScratch L = fused_scratch_layout(d);
    float *q = scratch + L.q, *scores = scratch + L.scores, *acc = scratch + L.acc;
    float *row_max = scratch + L.max, *row_sum = scratch + L.sum;
    for (int i = 0; i < rows; i++) {
        for (int c = 0; c < d; c++) {
            q[i * d + c] = image[(row_begin + i) * stride + h * d + c] * scale;
            acc[i * d + c] = 0.f;
        }
        row_max[i] = -INFINITY;
        row_sum[i] = 0.f;
    }
    for (int kb = 0; kb < N; kb += kFusedTileKeys) {
        const int nk = N - kb < kFusedTileKeys ? N - kb : kFusedTileKeys;
        for (int i = 0; i < rows; i++) {
            float* s = scores + i * kFusedTileKeys;
            for (int j = 0; j < nk; j++) s[j] = 0.f;
            for (int c = 0; c < d; c++)
                for (int j = 0; j < nk; j++) s[j] += q[i * d + c] * kt[static_cast<long long>(c) * a.n_pad + kb + j];
            float tile_max = -INFINITY;
            for (int j = 0; j < nk; j++) tile_max = std::fmax(tile_max, s[j]);
            const float new_max = std::fmax(row_max[i], tile_max);
            const float rescale = std::exp(row_max[i] - new_max);  // 0 on the first tile
            float sum = 0.f;
            for (int j = 0; j < nk; j++) sum += (s[j] = std::exp(s[j] - new_max));
            row_sum[i] = row_sum[i] * rescale + sum;
            row_max[i] = new_max;
            float* o = acc + i * d;
            for (int c = 0; c < d; c++) o[c] *= rescale;
            for (int j = 0; j < nk; j++) {
                const float* v = image + (kb + j) * stride + 2 * D + h * d;
                for (int c = 0; c < d; c++) o[c] += s[j] * v[c];
            }
        }
    }
    for (int i = 0; i < rows; i++) {
        float* o = a.out + (static_cast<long long>(b) * N + row_begin + i) * D + h * d;
        const float inv = 1.0f / row_sum[i];
        for (int c = 0; c < d; c++) o[c] = acc[i * d + c] * inv;
    }
}

}  // namespace sparsifiner
