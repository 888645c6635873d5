#include "core/masks/mask_patterns.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "core/kernels/topk.h"

namespace sparsifiner {

int mask_budget(float keep_rate, int N) {
    if (N <= 0) return 0;
    if (!(keep_rate > 0)) return 1;  // also NaN
    const double kept = std::ceil(static_cast<double>(keep_rate) * N * (1.0 - 1e-6));
    return static_cast<int>(std::min<double>(std::max<double>(kept, 1.0), N));
}

int oracle_mask(const float* qkv, int B, int N, int H, int d, int budget, int32_t* key_index) {
    budget = std::min(std::max(budget, 1), std::max(N, 1));
    if (B <= 0 || N <= 1) return budget;
    const int D = H * d;
    const long long row_stride = 3LL * D;
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            thread_local std::vector<float> scores;
            if (scores.size() < static_cast<size_t>(N)) scores.resize(N);
            const float* image = qkv + static_cast<long long>(b) * N * row_stride;
            int32_t* out = key_index + (static_cast<long long>(b) * H + h) * (N - 1) * budget;
            for (int i = 1; i < N; i++) {
                const float* q = image + i * row_stride + h * d;
                // The scale d^-0.5 does not change the ranking: plain q . k.
                for (int j = 0; j < N; j++) {
                    const float* k = image + j * row_stride + D + h * d;
                    float s = 0.f;
                    for (int t = 0; t < d; t++) s += q[t] * k[t];
                    scores[j] = s;
                }
                topk_select(scores.data(), N, budget, out + static_cast<long long>(i - 1) * budget);
            }
        }
    return budget;
}

int window_mask(int N, int extra_tokens, int grid_h, int grid_w, int budget, const int32_t* token_positions,
                int32_t* rows) {
    const long long originals = static_cast<long long>(extra_tokens) + static_cast<long long>(grid_h) * grid_w;
    if (extra_tokens < 1 || grid_h < 1 || grid_w < 1 || N < 1 || N > originals)
        throw std::invalid_argument("window mask: " + std::to_string(N) + " tokens do not fit " +
                                    std::to_string(extra_tokens) + " extra tokens and a " + std::to_string(grid_h) +
                                    "x" + std::to_string(grid_w) + " grid");
    if (!token_positions && N != originals)
        throw std::invalid_argument("window mask: " + std::to_string(N) + " tokens without positions, the grid has " +
                                    std::to_string(originals));
    std::vector<int32_t> original(N);
    for (int i = 0; i < N; i++) {
        original[i] = token_positions ? token_positions[i] : i;
        if (original[i] < 0 || original[i] >= originals || (i > 0 && original[i] <= original[i - 1]))
            throw std::invalid_argument("window mask: token position " + std::to_string(i) + " (" +
                                        std::to_string(original[i]) + ") is not strictly ascending within [0, " +
                                        std::to_string(originals) + ")");
    }
    budget = std::min(std::max(budget, 1), N);
    std::vector<float> score(N);
    const float always = std::numeric_limits<float>::infinity();
    for (int i = 1; i < N; i++) {
        int32_t* out = rows + static_cast<long long>(i - 1) * budget;
        if (original[i] < extra_tokens) {
            // The dist query: the lowest indices.
            for (int j = 0; j < N; j++) score[j] = static_cast<float>(-j);
        } else {
            const int cell = original[i] - extra_tokens, r = cell / grid_w, col = cell % grid_w;
            for (int j = 0; j < N; j++) {
                if (original[j] < extra_tokens) {
                    score[j] = always;  // extra tokens are always kept (lowest index first if over budget)
                    continue;
                }
                const int other = original[j] - extra_tokens;
                const int dr = other / grid_w - r, dc = other % grid_w - col;
                // Squared distance orders like the distance; exact in float for any real grid.
                score[j] = -static_cast<float>(dr * dr + dc * dc);
            }
        }
        topk_select(score.data(), N, budget, out);
    }
    return budget;
}

const int32_t* WindowMaskCache::get(int N, int extra_tokens, int grid_h, int grid_w, int budget,
                                    const int32_t* token_positions, int* used_budget) {
    const bool same_positions = token_positions ? positions_.size() == static_cast<size_t>(N) &&
                                                      std::equal(positions_.begin(), positions_.end(), token_positions)
                                                : positions_.empty();
    if (N != N_ || extra_tokens != extra_ || grid_h != grid_h_ || grid_w != grid_w_ || budget != budget_ ||
        !same_positions) {
        const int clamped = std::min(std::max(budget, 1), std::max(N, 1));
        rows_.assign(static_cast<size_t>(std::max(N - 1, 0)) * clamped, 0);
        window_mask(N, extra_tokens, grid_h, grid_w, budget, token_positions, rows_.data());
        N_ = N;
        extra_ = extra_tokens;
        grid_h_ = grid_h;
        grid_w_ = grid_w;
        budget_ = budget;
        positions_.assign(token_positions ? token_positions : nullptr, token_positions ? token_positions + N : nullptr);
    }
    if (used_budget) *used_budget = std::min(std::max(budget, 1), std::max(N, 1));
    return rows_.data();
}

}  // namespace sparsifiner
