#pragma once
// The numbers behind the pictures of `sparsifiner visualize`: one query's attention
// probabilities over its kept keys, recomputed from a block's qkv, and the thresholded basis
// rows of the Sparsifiner predictor. Both are per original token, so pictures can place them
// on the patch grid whatever pruning did.
#include <cstdint>
#include <string>
#include <vector>

#include "weights/deit_weights.h"

namespace sparsifiner {

// What one block saw, captured through ForwardObserver for image 0.
struct BlockCapture {
    int T = 0;                        // alive tokens at the block's input
    int k = 0;                        // kept keys per non-cls row; 0 = dense block
    std::vector<float> qkv;           // [T, 3, H, d]
    std::vector<int32_t> key_index;   // [H, T-1, k] into the alive tokens (empty when dense)
    std::vector<int32_t> positions;   // [T] original token indices
};

// Weight per original token (tokens_total of them) for query `query` (an original token index)
// and head h: the attention probability p_j = softmax over the kept keys of q.k_j * d^-0.5, as
// the block computes it; -1 for an alive key the query does not keep, -2 for a token pruned
// before this block. The cls query, and every query of a dense block, keeps all alive keys.
// Returns an empty vector when the query token itself was pruned before this block.
std::vector<float> query_key_weights(const BlockCapture& block, int query, int h, int H, int d, int tokens_total);

// The thresholded basis of a Sparsifiner block (SPEC 2 step 5): |proj_back_n|^T [K, N] with
// entries <= threshold set to 0.
std::vector<float> basis_rows(const std::vector<float>& proj_back_n, int N, int K, float threshold);

}  // namespace sparsifiner
