#pragma once
// The DeiT forward pass (SPEC 1): patch embedding -> [cls, (dist,)] + patches + pos_embed ->
// blocks -> LayerNorm -> head. Built from loaded weights for one input size; the weights of every
// Linear are handed to oneDNN once, here, and the source DeitWeights may be dropped afterwards.
#include <functional>
#include <vector>

#include "core/attention_dense.h"
#include "core/linear.h"
#include "core/workspace.h"
#include "weights/deit_weights.h"

namespace sparsifiner {

// Called after each block with the hidden state x [B, T, D] (for parity dumps).
using BlockObserver = std::function<void(int block, const float* x, int B, int T, int D)>;

class DeitModel {
public:
    // img_size 0 = the size the weights were trained for; otherwise a multiple of the patch size,
    // pos_embed resized as SPEC 1 says.
    DeitModel(const DeitWeights& weights, int img_size = 0);

    const DeitConfig& config() const { return config_; }
    int img_size() const { return img_size_; }
    int tokens() const { return tokens_; }  // T = grid^2 + extra tokens
    int num_classes() const { return config_.num_classes; }

    // images [B, 3, S, S] normalised (SPEC 6); logits [B, C].
    void forward(const float* images, int B, float* logits, const BlockObserver& observer = nullptr);

    // The oneDNN implementation behind the Linear layers for batch B ("gemm:jit", ...).
    std::string linear_implementation(int B);

private:
    struct Block {
        std::vector<float> norm1_w, norm1_b, norm2_w, norm2_b;
        Linear qkv, proj, fc1, fc2;
    };
    struct Buffers {
        float *x, *xn, *qkv, *attn, *scores, *hidden, *patches, *patch_out, *features, *logits2;
    };
    Buffers buffers_for(int B);
    void embed(const float* images, int B, const Buffers& buf);
    void block_forward(Block& block, int B, const Buffers& buf);
    void head_forward(int B, const Buffers& buf, float* logits);

    DeitConfig config_;
    int img_size_, grid_, tokens_, extra_;
    std::vector<float> cls_token_, dist_token_, pos_embed_;  // pos_embed_ [T, D] at img_size_
    Linear patch_embed_;
    std::vector<Block> blocks_;
    std::vector<float> norm_w_, norm_b_;
    Linear head_, head_dist_;
    DenseAttention attention_;
    Workspace workspace_;
};

}  // namespace sparsifiner
