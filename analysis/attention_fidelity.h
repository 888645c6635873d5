#pragma once
// How faithful a sparse attention head is to dense attention (the paper's analysis, issue 5):
// the dense softmax mass its kept pairs hold, the relative error of its output, and the singular
// value spectra of the dense, the sparse and the predictor's low-rank attention matrices.
//
// Unlike the sparse path (SPEC 2 step 8), this BUILDS the dense N x N probability matrix of a
// head, in double precision: it is an analysis tool, run outside any timed forward pass.
//
// One head of one image: q, k, v are rows of `stride` floats (read in place from the qkv
// output [N, 3, H, d]: stride 3D), N alive tokens, head dim d. key_index [N-1, k] holds the kept
// keys of the non-cls query rows (ascending, into the alive tokens); nullptr means dense
// (every row keeps every key). The cls row (row 0) always keeps every key.
#include <cstdint>
#include <vector>

namespace sparsifiner {

struct HeadFidelity {
    // Mean over the non-cls query rows of sum over kept keys j of P_dense[i, j]: the share of the
    // dense probability mass the mask keeps. 1 for a dense head. The cls row is left out since
    // it keeps all keys by construction.
    double kept_mass = 1;
    // ||O_sparse - O_dense||_F / ||O_dense||_F over all N rows of the head's output [N, d]
    // (the cls row is equal in both and adds to the denominator only).
    double output_rel_error = 0;
    // The largest singular values, descending (min(top, N) of them): of P_dense [N, N], of
    // P_sparse [N, N] (softmax over the kept keys, zeros elsewhere) and, when a low-rank
    // approximation was given, of it ([N-1, N]; empty otherwise).
    std::vector<double> dense_singular, sparse_singular, low_rank_singular;
};

// Everything above. low_rank [N-1, N] row-major or nullptr. top = how many singular values.
HeadFidelity head_fidelity(const float* q, const float* k, const float* v, long stride, int N, int d,
                           const int32_t* key_index, int kept, const double* low_rank, int top);

// Only the kept mass (what a sweep reports): no N x N matrix kept, one row of scores at a time.
double head_kept_mass(const float* q, const float* k, long stride, int N, int d, const int32_t* key_index, int kept);

// The `top` largest singular values (descending) of a [rows, cols] row-major matrix, through
// LAPACK's dgesdd (values only). `a` is consumed. Throws std::runtime_error if LAPACK fails.
// Safe to call from OpenMP threads: an OpenBLAS LAPACK is limited to one thread of its own.
std::vector<double> singular_values(std::vector<double> a, int rows, int cols, int top);

}  // namespace sparsifiner
