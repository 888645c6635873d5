// The portable kernels of the key top-k: plain loops, the reference the vector ones are tested
// against (core/topk_kernels.h).
#include "core/kernels/topk_kernels.h"

#include <algorithm>
#include <climits>
#include <cmath>

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

int moments_portable(const float* scores, int n, int step, double* sum, double* sum_squares) {
    float s = 0, q = 0;
    int summed = 0;
    for (long long i = 0; i < n; i += 16LL * step)
        for (long long e = i; e < i + 16 && e < n; e++) {
            s += scores[e];
            q += scores[e] * scores[e];
            summed++;
        }
    *sum = s;
    *sum_squares = q;
    return summed;
}

int count_at_least_f_portable(const float* values, int m, float t) {
    int count = 0;
    for (int e = 0; e < m; e++) count += values[e] >= t;
    return count;
}

int band_f_portable(const float* values, const int32_t* index, int m, float lo, float hi, float* out_value,
                    int32_t* out_index, int* at_hi) {
    int written = 0, count_hi = 0;
    for (int e = 0; e < m; e++) {
        const float v = values[e];
        const int32_t ix = index ? index[e] : e;
        count_hi += v >= hi;
        out_value[written] = v;  // out may be values: written <= e, so this never clobbers unread entries
        out_index[written] = ix;
        written += v >= lo && v < hi;
    }
    *at_hi = count_hi;
    return written;
}

void min_max_f_portable(const float* values, int m, float* low, float* high) {
    float lo = values[0], hi = values[0];
    for (int e = 1; e < m; e++) {
        lo = std::min(lo, values[e]);
        hi = std::max(hi, values[e]);
    }
    *low = lo;
    *high = hi;
}

int write_selected_f_portable(const float* scores, int n, float kth, int last_index, int k, int32_t* out) {
    int written = 0;
    for (int i = 0; i < n && written < k; i++) {
        out[written] = i;
        written += scores[i] > kth || (scores[i] == kth && i <= last_index);
    }
    return written;
}

}  // namespace

const TopkKernels& topk_kernels_portable() {
    static const TopkKernels kernels = {rank_row_portable,       rank_sample_portable,    rank_band_portable,
                                        count_at_least_portable, compact_portable,        write_selected_portable,
                                        moments_portable,        count_at_least_f_portable, band_f_portable,
                                        min_max_f_portable,      write_selected_f_portable, nullptr};
    return kernels;
}

}  // namespace sparsifiner
