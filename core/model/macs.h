#pragma once
// Multiply-accumulate counts of the dense DeiT (SPEC 5): matrix products and the patch
// convolution only; LayerNorm, softmax and GELU are element-wise and not counted here.
#include <vector>

#include "core/model/attention_plan.h"
#include "core/model/forward_stats.h"
#include "weights/deit_weights.h"

namespace sparsifiner {

// The learned predictor's products one by one (SPEC 2 steps 1, 2, 3 and 6), per image.
struct PredictorMacs {
    double qc = 0, kc = 0, kl = 0, cheap = 0, coef_basis = 0;
};

struct BlockMacs {
    double qkv = 0, predictor = 0, mask_scores = 0, qk = 0, pv = 0, proj = 0, fc1 = 0, fc2 = 0;
    PredictorMacs predictor_products;  // sums to `predictor`
    double total() const { return qkv + predictor + mask_scores + qk + pv + proj + fc1 + fc2; }
    // The paper's "MHSA FLOPs": the attention-matrix products plus what picks the kept pairs.
    double mhsa() const { return predictor + mask_scores + qk + pv; }
};

// FLOP conventions: this tool's totals are MACs of matrix products and the patch convolution
// (SPEC 5; DeiT-S at 224: 4.599 G). fvcore's FlopCountAnalysis, which many papers quote, also
// counts every LayerNorm with its default rules, as 5 operations per input element (normalise
// and affine), over all tokens (4.608 G for DeiT-S). The "with LayerNorm" figures below add that
// term so both conventions can be compared; nothing else element-wise is in either.
constexpr double kFvcoreLayerNormOpsPerElement = 5;

struct DeitMacs {
    double patch_embed = 0, head = 0;
    BlockMacs block;  // every block of the dense model costs the same
    int depth = 0;
    double layernorm_elements = 0;  // inputs of every LayerNorm (2 per block + the final one), all tokens
    double total() const { return patch_embed + head + depth * block.total(); }
    double total_with_layernorm() const { return total() + kFvcoreLayerNormOpsPerElement * layernorm_elements; }
    double attention_products() const { return depth * (block.qk + block.pv); }  // q k + p v
};

// For one image at input size img_size (0 = the trained size).
DeitMacs deit_dense_macs(const DeitConfig& config, int img_size = 0);

// What a forward pass really did, per image: q k and p v over the kept pairs only (the cls row
// dense), the predictor's products (its coef x basis over non-zeros), oracle's dense q.k, and
// every Linear on the tokens alive at that point.
struct ForwardMacs {
    double patch_embed = 0, head = 0;
    std::vector<BlockMacs> blocks;
    // LayerNorm inputs: per block LN1 on the tokens in and LN2 on the tokens out, plus the final
    // LayerNorm on the tokens alive at the end (as the PyTorch model runs it; the engine itself
    // normalises only the cls and dist rows there).
    double layernorm_elements = 0;
    double total() const;
    double total_with_layernorm() const { return total() + kFvcoreLayerNormOpsPerElement * layernorm_elements; }
    double mhsa() const;
};
ForwardMacs forward_macs(const DeitConfig& config, const ForwardStats& stats, int img_size);

// The same without running anything, for an attention plan (e.g. a Sparsifiner model's trained
// keep rate and pruning): tokens per block from the plan's pruning, k = attention_plan_budget.
// The predictor's coef x basis product depends on which coefficients an image keeps; here each
// query row is counted at basis_coef_topk basis rows of the mean non-zero count (the basis's
// non-zeros / K, scaled by T / N on pruned blocks). basis_nnz: per block, the non-zeros of the
// thresholded basis (ignored unless the plan uses learned masks).
ForwardMacs planned_macs(const DeitConfig& config, const AttentionPlan& plan, const std::vector<long long>& basis_nnz,
                         int img_size = 0);

// Parameters a model of this geometry holds (what PyTorch's numel sum would say).
double deit_parameter_count(const DeitConfig& config);

}  // namespace sparsifiner
