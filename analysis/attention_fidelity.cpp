#include "analysis/attention_fidelity.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include <dlfcn.h>
#include <lapacke.h>

namespace sparsifiner {

namespace {

// Softmax of q_i . k_j * d^-0.5 over the keys `keys` (nullptr: all N) of row i, in double,
// written to row[j] for those keys; the other entries of row are set to 0.
void softmax_row(const float* q, const float* k, long stride, int N, int d, int i, const int32_t* keys, int count,
                 double* row) {
    const double scale = 1.0 / std::sqrt((double)d);
    const float* qi = q + (long)i * stride;
    std::fill(row, row + N, 0.0);
    double top = -INFINITY;
    for (int n = 0; n < count; n++) {
        const int j = keys ? keys[n] : n;
        const float* kj = k + (long)j * stride;
        double dot = 0;
        for (int c = 0; c < d; c++) dot += (double)qi[c] * kj[c];
        row[j] = dot * scale;
        top = std::max(top, row[j]);
    }
    // Shifted by the row maximum so that exp never overflows; the sum is then at least 1.
    double sum = 0;
    for (int n = 0; n < count; n++) {
        const int j = keys ? keys[n] : n;
        sum += (row[j] = std::exp(row[j] - top));
    }
    for (int n = 0; n < count; n++) row[keys ? keys[n] : n] /= sum;
}

double kept_sum(const double* dense_row, const int32_t* keys, int kept) {
    double mass = 0;
    for (int n = 0; n < kept; n++) mass += dense_row[keys[n]];
    return mass;
}

// Debian's default LAPACK is OpenBLAS's (update-alternatives), whose own thread pool sizes itself
// by the machine's cores, not by the process's CPU quota or --threads: on a 2-CPU container it made
// each 197 x 197 SVD ~25x slower. These matrices are small; callers parallelise over heads with
// OpenMP instead, so ask OpenBLAS, when it is the LAPACK in use, for one thread.
void lapack_single_threaded_once() {
    static const bool done = [] {
        using set_threads = void (*)(int);
        if (auto set = reinterpret_cast<set_threads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) set(1);
        return true;
    }();
    (void)done;
}

}  // namespace

std::vector<double> singular_values(std::vector<double> a, int rows, int cols, int top) {
    const int count = std::min(rows, cols);
    std::vector<double> s(std::max(count, 1));
    if (count > 0) {
        lapack_single_threaded_once();
        // Row-major [rows, cols] is column-major [cols, rows]: the transpose, same singular values,
        // and no copy into another layout inside LAPACKE.
        const lapack_int info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', cols, rows, a.data(), cols, s.data(), nullptr,
                                               1, nullptr, 1);
        if (info != 0)
            throw std::runtime_error("LAPACK dgesdd failed (info " + std::to_string(info) + ") on a " +
                                     std::to_string(rows) + "x" + std::to_string(cols) + " matrix");
    }
    s.resize(std::min(count, top));  // dgesdd returns them in descending order
    return s;
}

HeadFidelity head_fidelity(const float* q, const float* k, const float* v, long stride, int N, int d,
                           const int32_t* key_index, int kept, const double* low_rank, int top) {
    HeadFidelity f;
    const size_t NN = (size_t)N * N;
    std::vector<double> dense(NN), sparse(NN);
    double mass_sum = 0;
    for (int i = 0; i < N; i++) {
        double* dense_row = dense.data() + (size_t)i * N;
        softmax_row(q, k, stride, N, d, i, nullptr, N, dense_row);
        if (i == 0 || key_index == nullptr) {
            std::copy(dense_row, dense_row + N, sparse.data() + (size_t)i * N);
            if (i > 0) mass_sum += 1;
            continue;
        }
        const int32_t* keys = key_index + (size_t)(i - 1) * kept;
        mass_sum += kept_sum(dense_row, keys, kept);
        softmax_row(q, k, stride, N, d, i, keys, kept, sparse.data() + (size_t)i * N);
    }
    f.kept_mass = N > 1 ? mass_sum / (N - 1) : 1.0;

    // O = P V for both, compared row by row.
    double diff2 = 0, norm2 = 0;
    std::vector<double> od(d), os(d);
    for (int i = 0; i < N; i++) {
        std::fill(od.begin(), od.end(), 0.0);
        std::fill(os.begin(), os.end(), 0.0);
        for (int j = 0; j < N; j++) {
            const double pd = dense[(size_t)i * N + j], ps = sparse[(size_t)i * N + j];
            if (pd == 0 && ps == 0) continue;
            const float* vj = v + (long)j * stride;
            for (int c = 0; c < d; c++) od[c] += pd * vj[c], os[c] += ps * vj[c];
        }
        for (int c = 0; c < d; c++) diff2 += (os[c] - od[c]) * (os[c] - od[c]), norm2 += od[c] * od[c];
    }
    f.output_rel_error = norm2 > 0 ? std::sqrt(diff2 / norm2) : 0.0;

    f.sparse_singular = key_index ? singular_values(sparse, N, N, top) : std::vector<double>();
    f.dense_singular = singular_values(std::move(dense), N, N, top);
    if (!key_index) f.sparse_singular = f.dense_singular;  // the same matrix
    if (low_rank && N > 1)
        f.low_rank_singular = singular_values(std::vector<double>(low_rank, low_rank + (size_t)(N - 1) * N), N - 1, N,
                                              top);
    return f;
}

double head_kept_mass(const float* q, const float* k, long stride, int N, int d, const int32_t* key_index, int kept) {
    if (key_index == nullptr || N <= 1) return 1.0;
    std::vector<double> row(N);
    double mass_sum = 0;
    for (int i = 1; i < N; i++) {
        softmax_row(q, k, stride, N, d, i, nullptr, N, row.data());
        mass_sum += kept_sum(row.data(), key_index + (size_t)(i - 1) * kept, kept);
    }
    return mass_sum / (N - 1);
}

}  // namespace sparsifiner
