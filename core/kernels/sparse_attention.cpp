// The dispatcher, the OpenMP loop and the portable implementation of sparse attention. The AVX2
// and AVX-512 row kernels live in sparse_attention_avx2.cpp and sparse_attention_avx512.cpp.
#include "core/kernels/sparse_attention.h"

#include <cmath>
#include <cstdlib>
#include <new>
#include <stdexcept>
#include <string>

#include "core/kernels/head_rows.h"
#include "core/platform/cpu_info.h"
#include "core/platform/thread_scratch.h"
#include "core/platform/threading.h"

namespace sparsifiner {

namespace {

// Work items: every (image, head) is split into row chunks, just enough chunks that each thread
// gets several items (load balance with few images and heads), and no more: an item reuses (or
// copies once) its head's K and V, so larger items amortise that.
constexpr int kItemsPerThread = 4;
constexpr int kMinRowsPerItem = 16;

using RowsKernel = void (*)(const SparseAttentionArgs&, int, int, int, int, float*);

RowsKernel kernel_for(Isa isa) {
    switch (isa) {
        case Isa::avx512: return sparse_attention_rows_avx512;
        case Isa::avx2: return sparse_attention_rows_avx2;
        default: return sparse_attention_rows_portable;
    }
}

}  // namespace

SparseScratch sparse_scratch_layout(int N, int k, int d) {
    // Scores: N for the dense cls row, k otherwise; every block padded to a 64-byte boundary.
    auto pad = [](size_t floats) { return (floats + 15) / 16 * 16; };
    SparseScratch s;
    s.acc = pad(static_cast<size_t>(N > k ? N : k));
    s.keys = s.acc + pad(static_cast<size_t>(d));
    s.values = s.keys + pad(static_cast<size_t>(N) * d);
    s.block_scores = s.values + pad(static_cast<size_t>(N) * d);
    s.block_scores_stride = pad(static_cast<size_t>(k));
    s.block_acc = s.block_scores + kSparseBlockRows * s.block_scores_stride;
    s.total = s.block_acc + kSparseBlockRows * pad(static_cast<size_t>(d));
    return s;
}

size_t sparse_attention_scratch_floats(int N, int k, int d) { return sparse_scratch_layout(N, k, d).total; }

std::string sparse_key_index_check(const int32_t* key_index, long long rows, int N, int k) {
    for (long long r = 0; r < rows; r++) {
        const int32_t* row = key_index + r * k;
        for (int t = 0; t < k; t++) {
            if (row[t] < 0 || row[t] >= N)
                return "key_index row " + std::to_string(r) + ": index " + std::to_string(row[t]) +
                       " outside [0, " + std::to_string(N) + ")";
            if (t > 0 && row[t] <= row[t - 1])
                return "key_index row " + std::to_string(r) + ": indices not strictly ascending at position " +
                       std::to_string(t);
        }
    }
    return {};
}

void sparse_attention_forward_isa(Isa isa, const float* qkv, const int32_t* key_index, float* out,
                                  float* cls_probs, int B, int N, int H, int d, int k, long long index_stride) {
    if (B <= 0 || N <= 0 || H <= 0 || d <= 0) return;
    if (N > 1 && (k < 1 || k > N))
        throw std::invalid_argument("sparse attention: k = " + std::to_string(k) + " outside [1, N = " +
                                    std::to_string(N) + "]");
    if (!isa_supported(isa))
        throw std::invalid_argument(std::string("sparse attention: this CPU cannot run the ") +
                                    isa_name(isa) + " kernel");
    SparseAttentionArgs args{qkv, key_index, out, cls_probs, B, N, H, d, k,
                             index_stride < 0 ? static_cast<long long>(N - 1) * k : index_stride};
    RowsKernel kernel = kernel_for(isa);
    const size_t scratch_floats = sparse_attention_scratch_floats(N, k, d);
    for_each_head_rows(B, H, N, sparse_attention_rows_per_item(B, H, N), [&](int b, int h, int begin, int end) {
        kernel(args, b, h, begin, end, thread_scratch(scratch_floats));
    });
}

int sparse_attention_rows_per_item(int B, int H, int N) {
    const long long heads = static_cast<long long>(B) * H;
    const long long wanted = (static_cast<long long>(kItemsPerThread) * threads_get() + heads - 1) / heads;
    const int max_items = (N + kMinRowsPerItem - 1) / kMinRowsPerItem;
    const int items = static_cast<int>(wanted < max_items ? wanted : max_items);
    return (N + items - 1) / items;
}

void sparse_attention_forward(const float* qkv, const int32_t* key_index, float* out, float* cls_probs,
                              int B, int N, int H, int d, int k, long long index_stride) {
    sparse_attention_forward_isa(isa_best(), qkv, key_index, out, cls_probs, B, N, H, d, k,
                                 index_stride);
}

// The reference implementation: plain loops, std::exp. The vector kernels follow the same steps.
void sparse_attention_rows_portable(const SparseAttentionArgs& a, int b, int h, int row_begin, int row_end,
                                    float* scratch) {
    const SparseHeadView head(a, b, h);
    const int N = a.N, d = a.d;
    const float scale = 1.0f / std::sqrt(static_cast<float>(d));
    float* scores = scratch;
    float* acc = scratch + (static_cast<size_t>(N > a.k ? N : a.k) + 15) / 16 * 16;
    for (int i = row_begin; i < row_end; i++) {
        const float* q = head.query(i);
        const int32_t* index = head.kept(i);
        const int count = head.count(i);
        float max_score = -INFINITY;
        for (int t = 0; t < count; t++) {
            const float* key = head.keys + (index ? index[t] : t) * head.row_stride;
            float s = 0.f;
            for (int c = 0; c < d; c++) s += q[c] * key[c];
            scores[t] = s * scale;
            max_score = std::fmax(max_score, scores[t]);
        }
        float sum = 0.f;
        for (int t = 0; t < count; t++) {
            scores[t] = std::exp(scores[t] - max_score);
            sum += scores[t];
        }
        const float inv_sum = 1.0f / sum;
        for (int c = 0; c < d; c++) acc[c] = 0.f;
        for (int t = 0; t < count; t++) {
            const float* value = head.values + (index ? index[t] : t) * head.row_stride;
            for (int c = 0; c < d; c++) acc[c] += scores[t] * value[c];
        }
        float* o = head.out(i);
        for (int c = 0; c < d; c++) o[c] = acc[c] * inv_sum;
        if (i == 0 && a.cls_probs) {
            float* probs = a.cls_probs + (static_cast<long long>(b) * a.H + h) * N;
            for (int t = 0; t < N; t++) probs[t] = scores[t] * inv_sum;
        }
    }
}

}  // namespace sparsifiner
