#include "cli/visualize_maps.h"

#include <algorithm>
#include <cmath>

namespace sparsifiner {

std::vector<float> query_key_weights(const BlockCapture& block, int query, int h, int H, int d, int tokens_total) {
    const int T = block.T, D = H * d;
    std::vector<float> weight(tokens_total, -2.0f);
    int row = -1;
    for (int t = 0; t < T; t++) {
        weight[block.positions[t]] = -1.0f;
        if (block.positions[t] == query) row = t;
    }
    if (row < 0) return {};

    // The keys this row attends to, as indices into the alive tokens.
    std::vector<int32_t> keys;
    if (row == 0 || block.k == 0) {
        for (int t = 0; t < T; t++) keys.push_back(t);
    } else {
        const int32_t* kept = block.key_index.data() + ((size_t)h * (T - 1) + row - 1) * block.k;
        keys.assign(kept, kept + block.k);
    }
    const float* q = block.qkv.data() + (size_t)row * 3 * D + h * d;
    const float scale = 1.0f / std::sqrt((float)d);
    std::vector<double> score(keys.size());
    double top = -INFINITY;
    for (size_t j = 0; j < keys.size(); j++) {
        const float* key = block.qkv.data() + (size_t)keys[j] * 3 * D + D + h * d;
        double dot = 0;
        for (int i = 0; i < d; i++) dot += (double)q[i] * key[i];
        score[j] = dot * scale;
        top = std::max(top, score[j]);
    }
    // Softmax over the kept set only (SPEC 2 step 8), shifted by the maximum for stability.
    double sum = 0;
    for (double& s : score) sum += (s = std::exp(s - top));
    for (size_t j = 0; j < keys.size(); j++) weight[block.positions[keys[j]]] = (float)(score[j] / sum);
    return weight;
}

std::vector<float> basis_rows(const std::vector<float>& proj_back_n, int N, int K, float threshold) {
    std::vector<float> basis((size_t)K * N, 0.0f);
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++) {
            const float v = std::fabs(proj_back_n[(size_t)n * K + k]);
            if (v > threshold) basis[(size_t)k * N + n] = v;
        }
    return basis;
}

}  // namespace sparsifiner
