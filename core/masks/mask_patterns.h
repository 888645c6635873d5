#pragma once
// Mask sources that need no trained predictor (SPEC 4), in the same ELL layout sparse attention
// reads: `oracle` (the true top-k of q.k per query row) and `window` (the nearest keys on the
// patch grid). Plus the budget rule shared by every mask source.
#include <cstdint>
#include <vector>

namespace sparsifiner {

// Keys kept per non-cls query row: ceil(keep_rate * N), clamped to [1, N]. A relative slack of
// 1e-6 absorbs float keep rates such as 0.1f (0.100000001) so that 0.1 of 200 is 20, not 21.
int mask_budget(float keep_rate, int N);

// qkv [B, N, 3, H, d] -> key_index [B, H, N-1, budget]: for each query row i >= 1, the budget keys
// j with the largest q_i . k_j (ties to the lower index), ascending. Row by row, one row of N
// scores per thread; parallel over (image, head). budget is clamped to [1, N]; returns it.
int oracle_mask(const float* qkv, int B, int N, int H, int d, int budget, int32_t* key_index);

// The window pattern, one [N-1, budget] block shared by every image and head (pass it to
// sparse attention with index_stride 0). Tokens are identified by their original index:
// token_positions [N] (strictly ascending; nullptr = 0..N-1), where originals 0..extra_tokens-1
// are the cls (and dist) tokens and original extra_tokens + r*grid_w + col is patch (r, col).
//   - a patch query keeps every extra token still alive (cls always; cls and dist when
//     distilled), then the patches nearest to it by Euclidean distance on the grid, itself
//     included, ties to the lower index, budget keys in all;
//   - the dist query (a non-cls extra token) has no place on the grid: it keeps the budget
//     keys with the lowest index (cls, dist, then the first patches in raster order);
//   - the cls query is dense in sparse attention and has no row here.
// budget is clamped to [1, N]; returns it. Throws std::invalid_argument on bad positions.
int window_mask(int N, int extra_tokens, int grid_h, int grid_w, int budget, const int32_t* token_positions,
                int32_t* rows);

// The window pattern computed once and reused while (N, budget, positions, grid) stay the same.
class WindowMaskCache {
public:
    // Returns rows [N-1, budget'] where budget' = the clamped budget (written to *used_budget).
    const int32_t* get(int N, int extra_tokens, int grid_h, int grid_w, int budget, const int32_t* token_positions,
                       int* used_budget);

private:
    int N_ = -1, extra_ = -1, grid_h_ = -1, grid_w_ = -1, budget_ = -1;
    std::vector<int32_t> positions_;
    std::vector<int32_t> rows_;
};

}  // namespace sparsifiner
