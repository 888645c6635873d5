#include "core/model/macs.h"

#include <algorithm>
#include <cmath>

#include "core/masks/mask_patterns.h"

namespace sparsifiner {

DeitMacs deit_dense_macs(const DeitConfig& c, int img_size) {
    const double S = img_size > 0 ? img_size : c.img_size;
    const double grid = (double)((int)S / c.patch_size), cells = grid * grid;
    const double N = cells + c.extra_tokens(), D = c.embed_dim, hidden = c.mlp_hidden;
    DeitMacs m;
    m.depth = c.depth;
    m.patch_embed = cells * D * c.in_chans * c.patch_size * c.patch_size;
    m.head = D * c.num_classes * (c.distilled ? 2 : 1);
    m.block.qkv = N * D * 3 * D;
    m.block.qk = N * N * D;  // H heads x N x N x d
    m.block.pv = N * N * D;
    m.block.proj = N * D * D;
    m.block.fc1 = N * D * hidden;
    m.block.fc2 = N * hidden * D;
    m.layernorm_elements = (2.0 * c.depth + 1) * N * D;
    return m;
}

ForwardMacs forward_macs(const DeitConfig& c, const ForwardStats& stats, int img_size) {
    const DeitMacs dense = deit_dense_macs(c, img_size);
    ForwardMacs m;
    m.patch_embed = dense.patch_embed;
    m.head = dense.head;
    const double D = c.embed_dim, hidden = c.mlp_hidden, B = stats.batch > 0 ? stats.batch : 1;
    for (const BlockStats& s : stats.blocks) {
        const double T = s.tokens_in, T_out = s.tokens_out, k = s.kept_keys;
        BlockMacs b;
        b.qkv = T * D * 3 * D;
        // The cls query row attends to all T keys, the other T - 1 rows to k keys each; over H
        // heads of d features that is D MACs per (query, key) pair.
        b.qk = D * (T + (T - 1) * k);
        b.pv = b.qk;
        b.predictor = s.predictor.total() / B;
        b.predictor_products = {s.predictor.macs_qc / B, s.predictor.macs_kc / B, s.predictor.macs_kl / B,
                                s.predictor.macs_cheap / B, s.predictor.macs_coef_basis / B};
        if (s.mask == MaskSource::oracle) b.mask_scores = D * (T - 1) * T;
        b.proj = T * D * D;
        b.fc1 = T_out * D * hidden;
        b.fc2 = T_out * hidden * D;
        m.blocks.push_back(b);
        m.layernorm_elements += (T + T_out) * D;
    }
    const double T_end = stats.blocks.empty() ? 0 : stats.blocks.back().tokens_out;
    m.layernorm_elements += T_end * D;
    return m;
}

ForwardMacs planned_macs(const DeitConfig& c, const AttentionPlan& plan, const std::vector<long long>& basis_nnz,
                         int img_size) {
    const int S = img_size > 0 ? img_size : c.img_size;
    const int grid = S / c.patch_size, patches = grid * grid, extra = c.extra_tokens();
    const long long H = c.num_heads, d = c.head_dim(), cc = c.predictor_c, K = c.predictor_K;
    ForwardStats stats;
    stats.batch = 1;
    int T = patches + extra;
    for (int i = 0; i < c.depth; i++) {
        BlockStats s;
        s.tokens_in = s.tokens_out = T;
        const int budget = attention_plan_budget(plan, i, patches + extra, T, extra);
        s.mask = budget >= T ? MaskSource::dense : plan.mask;
        s.kept_keys = std::min(budget, T);
        if (s.mask == MaskSource::learned && i < (int)basis_nnz.size()) {
            const double row_nnz = (double)basis_nnz[i] / K * T / c.predictor_N;
            s.predictor.macs_qc = s.predictor.macs_kc = H * T * cc * d;
            s.predictor.macs_kl = H * T * cc * K;
            s.predictor.macs_cheap = H * (T - 1) * cc * K;
            s.predictor.macs_coef_basis =
                std::llround(H * (T - 1) * std::min<long long>(c.basis_coef_topk, K) * row_nnz);
        }
        // Pruning as the forward pass does it (SPEC 3): the j-th pruning block keeps
        // at most ceil(r^(j+1) * patches) of the patches still alive.
        const auto at = std::find(plan.prune_at.begin(), plan.prune_at.end(), i);
        if (at != plan.prune_at.end()) {
            const float rate = std::pow(plan.token_keep, (float)(at - plan.prune_at.begin() + 1));
            T = extra + std::min(T - extra, mask_budget(rate, patches));
            s.tokens_out = T;
        }
        stats.blocks.push_back(s);
    }
    return forward_macs(c, stats, S);
}

double ForwardMacs::total() const {
    double sum = patch_embed + head;
    for (const BlockMacs& b : blocks) sum += b.total();
    return sum;
}

double ForwardMacs::mhsa() const {
    double sum = 0;
    for (const BlockMacs& b : blocks) sum += b.mhsa();
    return sum;
}

double deit_parameter_count(const DeitConfig& c) {
    const double D = c.embed_dim, hidden = c.mlp_hidden, P = c.patch_size;
    const double tokens = (double)c.grid() * c.grid() + c.extra_tokens();
    double block = 2 * D                       // norm1
                   + 3 * D * D + 3 * D         // qkv
                   + D * D + D                 // proj
                   + 2 * D                     // norm2
                   + hidden * D + hidden       // fc1
                   + D * hidden + D;           // fc2
    if (c.sparsifiner) {
        const double d = c.head_dim(), cc = c.predictor_c;
        block += 2 * (cc * d + cc) + 2 * (double)c.predictor_N * c.predictor_K;
    }
    double heads = (D * c.num_classes + c.num_classes) * (c.distilled ? 2 : 1);
    return D * c.extra_tokens() + tokens * D + D * c.in_chans * P * P + D + c.depth * block + 2 * D + heads;
}

}  // namespace sparsifiner
