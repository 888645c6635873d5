#pragma once
// Fused dense multi-head attention (SPEC 1): O = softmax(Q K^T d^-0.5) V without the N x N score
// matrix. Each work item is one query tile of one image and head; it walks the keys in tiles,
// keeping per query row the running maximum m, the running sum l of e^(s - m) and an unnormalised
// output row, rescaled by e^(m_old - m_new) whenever a key tile raises the maximum ("online
// softmax"). Memory per thread: one query tile, one tile of scores and one output tile.
//
// Layouts (dimension letters as in weights/deit_weights.h):
//   qkv        [B, N, 3, H, d]  the qkv Linear's output, read in place (q at h*d, k at D + h*d,
//                               v at 2D + h*d of each token row of 3D floats)
//   out        [B, N, H, d] = [B*N, D]  the layout proj reads
//   cls_probs  [B, H, N]        optional: row 0's softmax probabilities (token pruning, SPEC 3)
// K is first copied once per call into [B, H, d, N_pad] (keys along the fast axis, N_pad a
// multiple of 16), so the score tile is a small matrix product with contiguous vector loads.
//
// Three implementations with the same results up to float rounding: portable C++ (the
// reference the vector kernels follow), AVX2+FMA and AVX-512 (F, BW, VL, DQ), compiled with
// per-function target attributes and chosen at run time. The vector kernels need d to be a
// multiple of their vector width (8 or 16 floats); for any other d the portable kernel runs.
#include <cstddef>

#include "core/kernels/sparse_attention.h"  // Isa: the kernel families the CPU can run

namespace sparsifiner {

// Query rows per work item and keys per tile.
constexpr int kFusedTileRows = 64;
constexpr int kFusedTileKeys = 64;

// The fastest kernel for head dimension d on this CPU.
Isa fused_attention_isa_best(int d);
// Whether `isa` has a kernel for head dimension d (the CPU check is isa_supported).
bool fused_attention_isa_fits(Isa isa, int d);

void fused_attention_forward(const float* qkv, float* out, float* cls_probs, int B, int N, int H, int d);
// Throws std::invalid_argument when the CPU cannot run `isa` or it has no kernel for d.
void fused_attention_forward_isa(Isa isa, const float* qkv, float* out, float* cls_probs, int B, int N,
                                 int H, int d);

// The per-ISA work unit: query rows [row_begin, row_end) (at most kFusedTileRows) of image b,
// head h. Internal to the dispatcher in fused_attention.cpp; declared here so the three
// translation units agree.
struct FusedAttentionArgs {
    const float* qkv;
    const float* keys_t;  // [B, H, d, n_pad]
    float* out;
    int B, N, H, d, n_pad;
};
// Per-thread scratch, 64-byte aligned, offsets in floats (multiples of 16).
struct FusedScratch {
    size_t q;       // [kFusedTileRows, d] the tile's query rows times d^-0.5 (unused rows zero)
    size_t scores;  // [kFusedTileRows, kFusedTileKeys] scores, then probabilities, of one key tile
    size_t acc;     // [kFusedTileRows, d] unnormalised output rows
    size_t max, sum, rescale;  // [kFusedTileRows] each: m, l and e^(m_old - m_new) per row
    size_t total;
};
FusedScratch fused_scratch_layout(int d);
void fused_attention_tile_portable(const FusedAttentionArgs& a, int b, int h, int row_begin, int row_end,
                                   float* scratch);
void fused_attention_tile_avx2(const FusedAttentionArgs& a, int b, int h, int row_begin, int row_end,
                               float* scratch);
void fused_attention_tile_avx512(const FusedAttentionArgs& a, int b, int h, int row_begin, int row_end,
                                 float* scratch);

}  // namespace sparsifiner
