// The portable kernels of the key top-k: plain loops, the reference the vector ones are tested
// against (core/topk_kernels.h).
#include "core/kernels/topk_kernels.h"

#include <algorithm>
#include <climits>

namespace sparsifiner {

namespace {

void rank_row_portable(const float* scores, int n, int32_t* ranks, int32_t* low, int32_t* high) {
    int32_t lo = INT32_MAX, hi = INT32_MIN;
    for (int i = 0; i < n; i++) {
        const int32_t rank = topk_float_rank(scores[i]);
        ranks[i] = rank;
        lo = std::min(lo, rank);
        hi = std::max(hi, rank);
    }
    *low = lo;
    *high = hi;
}

void rank_sample_portable(const float* scores, int stride, int count, int32_t* ranks, int32_t* low, int32_t* high) {
    int32_t lo = INT32_MAX, hi = INT32_MIN;
    for (int e = 0; e < count; e++) {
        ranks[e] = topk_float_rank(scores[static_cast<long long>(e) * stride]);
        lo = std::min(lo, ranks[e]);
        hi = std::max(hi, ranks[e]);
    }
    *low = lo;
    *high = hi;
}

int rank_band_portable(const float* scores, int n, int32_t lo, int32_t hi, int32_t* ranks, int32_t* out_rank,
                       int32_t* out_index, int* above) {
    int written = 0, count_above = 0;
    for (int i = 0; i < n; i++) {
        const int32_t rank = topk_float_rank(scores[i]);
        ranks[i] = rank;
        out_rank[written] = rank;
        out_index[written] = i;
        written += rank >= lo && rank <= hi;
        count_above += rank > hi;
    }
    *above = count_above;
    return written;
}

int count_at_least_portable(const int32_t* rank, int m, int32_t t) {
    int count = 0;
    for (int e = 0; e < m; e++) count += rank[e] >= t;
    return count;
}

int compact_portable(const int32_t* rank, const int32_t* index, int m, int32_t lo, int32_t hi, int32_t* out_rank,
                     int32_t* out_index) {
    int written = 0;
    for (int e = 0; e < m; e++) {
        out_rank[written] = rank[e];
        out_index[written] = index ? index[e] : e;
        written += rank[e] >= lo && rank[e] <= hi;
    }
    return written;
}

int write_selected_portable(const int32_t* ranks, int n, int32_t kth_rank, int last_index, int k, int32_t* out) {
    int written = 0;
    for (int i = 0; i < n && written < k; i++) {
        out[written] = i;
        written += ranks[i] > kth_rank || (ranks[i] == kth_rank && i <= last_index);
    }
    return written;
}

}  // namespace

const TopkKernels& topk_kernels_portable() {
    static const TopkKernels kernels = {rank_row_portable,       rank_sample_portable,    rank_band_portable,
                                        count_at_least_portable, compact_portable,        write_selected_portable,
                                        nullptr,                 nullptr,                 nullptr,
                                        nullptr,                 nullptr,                 nullptr,
                                        nullptr};
    return kernels;
}

}  // namespace sparsifiner
