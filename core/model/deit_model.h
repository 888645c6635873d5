#pragma once
// The DeiT / Sparsifiner forward pass (SPEC 1-3): patch embedding -> [cls, (dist,)] + patches +
// pos_embed -> blocks -> LayerNorm -> head. A block: x += proj(attn(LN1(x))), then, at a pruning
// block, only the surviving tokens go on; x += fc2(GELU(fc1(LN2(x)))). attn is dense, or sparse
// over the keys a mask source picks (the learned predictor, oracle or window).
// Built from loaded weights for one input size; every Linear's weights are handed to oneDNN
// once, here, so the source DeitWeights may be dropped afterwards.
// "SPEC n" in comments: section n of docs/design.md (glossary of N, T, D, H, d, K, c, k there).
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/kernels/attention_dense.h"
#include "core/model/attention_plan.h"
#include "core/model/forward_stats.h"
#include "core/kernels/linear.h"
#include "core/masks/mask_builder.h"
#include "core/masks/mask_predictor.h"
#include "core/model/workspace.h"
#include "weights/deit_weights.h"

namespace sparsifiner {

// What a forward pass can report as it goes (for parity dumps and mask pictures).
struct ForwardObserver {
    // After block i: the hidden state x [B, T_i, D] of the tokens still alive.
    std::function<void(int block, const float* x, int B, int T, int D)> hidden;
    // At block i with sparse attention: the kept keys [B, H, T-1, k] (indices into the alive
    // tokens) and the alive tokens' original indices [B, T] at the block's input.
    std::function<void(int block, const int32_t* key_index, const int32_t* positions, int B, int H, int T,
                       int k)> masks;
    // At block i, right after the qkv Linear: qkv [B, T, 3, H, d] of the alive tokens (for
    // recomputing attention probabilities of a few queries, e.g. mask pictures).
    std::function<void(int block, const float* qkv, int B, int T)> qkv;
    // Filled with what each block did (and, when stats->timed, how long each op took).
    ForwardStats* stats = nullptr;
};

class DeitModel {
public:
    // img_size 0 = the size the weights were trained for; otherwise a multiple of the patch size,
    // pos_embed resized as SPEC 1 says. Throws std::invalid_argument on a bad size.
    // dtype: what every Linear's product reads (core/kernels/dtype.h); the rest stays f32.
    DeitModel(const DeitWeights& weights, int img_size = 0, Dtype dtype = Dtype::f32);

    // Throws std::invalid_argument when the plan cannot run on this model (e.g. learned masks
    // at a token count the predictor was not trained for).
    void set_attention_plan(const AttentionPlan& plan);
    const AttentionPlan& attention_plan() const { return plan_; }

    const DeitConfig& config() const { return config_; }
    int img_size() const { return img_size_; }
    Dtype dtype() const { return dtype_; }
    int tokens() const { return tokens_; }  // T at the input: grid^2 + extra tokens
    int num_classes() const { return config_.num_classes; }

    // images [B, in_chans, S, S] normalised (SPEC 6, with the model's mean and std); logits [B, C].
    void forward(const float* images, int B, float* logits, const ForwardObserver* observer = nullptr);

    // The block's connectivity predictor; nullptr for plain DeiT weights.
    const MaskPredictor* predictor(int block) const { return blocks_[block].predictor.get(); }

    // The oneDNN implementation of every Linear at the row counts a pass described by `stats`
    // ran them (ForwardStats of one forward at batch B): one entry per layer kind and row count
    // (patch_embed, qkv, proj, fc1, fc2, head, head_dist), blocks with the same rows merged.
    struct LinearImplementation {
        std::string layer;
        int rows;
        std::string impl;
    };
    std::vector<LinearImplementation> linear_implementations(const ForwardStats& stats);

private:
    struct Block {
        std::vector<float> norm1_w, norm1_b, norm2_w, norm2_b;
        Linear qkv, proj, fc1, fc2;
        std::unique_ptr<MaskPredictor> predictor;  // Sparsifiner weights only
    };
    struct Buffers {
        float *x, *xn, *qkv, *attn, *scores, *hidden, *patches, *patch_out, *features, *logits2, *cls_probs;
    };
    // The alive tokens of every image: how many, and their original indices [B, T].
    struct TokenState {
        int T;
        int32_t* positions;
    };
    Buffers buffers_for(int B);
    void embed(const float* images, int B, const Buffers& buf);
    void block_forward(int index, int B, Buffers& buf, TokenState& tokens, const ForwardObserver* observer);
    // Writes buf.attn; returns the kept keys per row (T when dense). cls_probs filled when asked.
    struct OpTimer;
    void attention_forward(int index, int B, const Buffers& buf, const TokenState& tokens, bool want_cls_probs,
                           const ForwardObserver* observer, const OpTimer& op);
    int masks_build(int index, int B, const Buffers& buf, const TokenState& tokens, int budget,
                    PredictorCounts* counts, PredictorSeconds* phases);
    void mask_builders_make();
    void tokens_prune(int index, int B, Buffers& buf, TokenState& tokens);
    void head_forward(int B, const Buffers& buf, const TokenState& tokens, float* logits);

    DeitConfig config_;
    AttentionPlan plan_;
    int img_size_, grid_, tokens_, extra_;
    Dtype dtype_;
    std::vector<float> cls_token_, dist_token_, pos_embed_;  // pos_embed_ [T, D] at img_size_
    Linear patch_embed_;
    std::vector<Block> blocks_;
    std::vector<float> norm_w_, norm_b_;
    Linear head_, head_dist_;
    DenseAttention attention_;
    std::vector<std::unique_ptr<MaskBuilder>> mask_builders_;  // per block; null for dense attention
    Workspace workspace_;
    // Integer scratch: grows only, like the workspace.
    std::vector<int32_t> key_index_, positions_, survivors_;
    std::vector<float> prune_scores_;  // per-patch pruning scores
};

}  // namespace sparsifiner
