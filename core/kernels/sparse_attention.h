#pragma once
// Sparse multi-head attention over an ELL mask (SPEC 2, step 8): every non-cls query row keeps
// exactly k keys; the cls query row (row 0) attends to all N keys densely. No N x N buffer is
// ever built: per thread only one row of scores (at most N floats, for the cls row) and one
// accumulator of d floats, in a per-thread buffer that only grows.
//
// Layouts (dimension letters as in weights/deit_weights.h):
//   qkv        [B, N, 3, H, d]  the qkv Linear's output, read in place (q at h*d, k at D + h*d,
//                               v at 2D + h*d of each token row of 3D floats)
//   key_index  [B, H, N-1, k]   int32 key indices of query rows 1..N-1, ascending, in [0, N)
//   out        [B, N, H, d] = [B*N, D]  the layout proj reads
//   cls_probs  [B, H, N]        optional: row 0's softmax probabilities (token pruning, SPEC 3)
//
// Three implementations with the same results up to float rounding: portable C++, AVX2+FMA and
// AVX-512 (F, BW, VL, DQ). The AVX ones are compiled with per-function target attributes so the
// default build runs on any x86-64; sparse_attention_forward picks the best the CPU supports.
#include "core/platform/isa.h"
#include <cstdint>
#include <string>

namespace sparsifiner {


// index_stride: elements between the key_index blocks of consecutive (b, h) pairs. The default
// (-1) means (N-1)*k, one mask per image and head; 0 means one [N-1, k] pattern shared by every
// image and head (the window mask). k must be in [1, N] (when N > 1); indices are not checked
// here (see sparse_key_index_check), the kernels trust them.
void sparse_attention_forward(const float* qkv, const int32_t* key_index, float* out, float* cls_probs,
                              int B, int N, int H, int d, int k, long long index_stride = -1);
void sparse_attention_forward_isa(Isa isa, const float* qkv, const int32_t* key_index, float* out,
                                  float* cls_probs, int B, int N, int H, int d, int k,
                                  long long index_stride = -1);

// Empty when every row of key_index [rows, k] holds k strictly ascending indices in [0, N);
// otherwise one line naming the first bad row. For tests and for masks that come from outside.
std::string sparse_key_index_check(const int32_t* key_index, long long rows, int N, int k);

// The per-ISA work unit: query rows [row_begin, row_end) of image b, head h. Internal to the
// dispatcher in sparse_attention.cpp; declared here so the three translation units agree.
struct SparseAttentionArgs {
    const float* qkv;
    const int32_t* key_index;
    float* out;
    float* cls_probs;
    int B, N, H, d, k;
    long long index_stride;
};
// One (image, head) of a work unit seen by a row kernel: its K and V rows (row_stride apart, in
// qkv) and, per query row i, the query and the kept keys. Shared by the portable and the vector
// kernels, so that they agree on the layout by construction.
struct SparseHeadView {
    const float* image;   // qkv of image b
    const float* keys;    // K of head h, row j at keys + j * row_stride
    const float* values;  // V of head h, likewise
    long long row_stride;
    const SparseAttentionArgs* args;
    int b, h;
    SparseHeadView(const SparseAttentionArgs& a, int image_index, int head)
        : image(a.qkv + static_cast<long long>(image_index) * a.N * 3LL * a.H * a.d),
          keys(image + static_cast<long long>(a.H) * a.d + head * a.d),
          values(image + 2LL * a.H * a.d + head * a.d),
          row_stride(3LL * a.H * a.d),
          args(&a),
          b(image_index),
          h(head) {}
    const float* query(int i) const { return image + i * row_stride + h * args->d; }
    // Row i's kept keys (ascending); nullptr for the cls row, which attends to all N keys.
    const int32_t* kept(int i) const {
        return i == 0 ? nullptr
                      : args->key_index + (static_cast<long long>(b) * args->H + h) * args->index_stride +
                            static_cast<long long>(i - 1) * args->k;
    }
    int count(int i) const { return i == 0 ? args->N : args->k; }
    float* out(int i) const { return args->out + (static_cast<long long>(b) * args->N + i) * args->H * args->d + h * args->d; }
};

// scratch holds at least sparse_attention_scratch_floats(N, k, d) floats, 64-byte aligned: one row
// of scores, an accumulator of d floats, room for contiguous copies of one head's K and V ([N, d]
// each), then a block of rows' scores and accumulators, all at multiples of 16 floats.
struct SparseScratch {
    size_t acc, keys, values;
    size_t block_scores, block_scores_stride;  // [kSparseBlockRows, block_scores_stride]
    size_t block_acc;                          // [kSparseBlockRows, d]
    size_t total;
};
// The d = 64 kernels' blocking: query rows per block, keys per tile (see block_d64 in
// sparse_attention_kernel.h: with the next row's lines prefetched, 128 x 128 measured best).
constexpr int kSparseBlockRows = 128;
constexpr int kSparseTileKeys = 128;
SparseScratch sparse_scratch_layout(int N, int k, int d);
size_t sparse_attention_scratch_floats(int N, int k, int d);
// Whether a work unit of `rows` query rows should first copy its head's K and V out of the 3D
// stride into contiguous rows: the gathers then touch 16x fewer pages and whole cache lines of one
// head only. Pays once the rows' gathered key reads outnumber the copied rows several times.
inline bool sparse_attention_copy_pays(int rows, int k, int N, int d) {
    return static_cast<long long>(rows) * k >= 8LL * N;
}
// Query rows per work item (for_each_head_rows, core/kernels/head_rows.h): just enough items per
// (image, head) that each thread gets several (load balance with few images and heads), and no
// more, since an item copies its head's K and V once. Shared by the f32 and the bf16 cores.
int sparse_attention_rows_per_item(int B, int H, int N);
void sparse_attention_rows_portable(const SparseAttentionArgs& a, int b, int h, int row_begin, int row_end,
                                    float* scratch);
void sparse_attention_rows_avx2(const SparseAttentionArgs& a, int b, int h, int row_begin, int row_end,
                                float* scratch);
void sparse_attention_rows_avx512(const SparseAttentionArgs& a, int b, int h, int row_begin, int row_end,
                                  float* scratch);

}  // namespace sparsifiner
