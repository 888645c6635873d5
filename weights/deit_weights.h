#pragma once
// What a DeiT (or Sparsifiner) model needs from a weight file: its geometry and every tensor as
// f32, checked by name and shape against what the geometry implies (SPEC sections 1, 2 and 7).
// A tensor that is missing, has the wrong shape, or is left unexplained is an error naming it.
#include <map>
#include <string>
#include <vector>

#include "weights/safetensors.h"

namespace sparsifiner {

// Dimension letters used across the project: B images, N tokens, D width, H heads,
// d head dim (D / H), K compressed tokens (Sparsifiner), k kept keys, C classes.
struct DeitConfig {
    std::string arch = "deit";  // informative: deit_tiny, deit_small, deit_base or custom
    int embed_dim = 0;          // D
    int num_heads = 0;          // H
    int depth = 0;
    int mlp_hidden = 0;
    int patch_size = 16;
    int img_size = 224;         // the size pos_embed was trained for
    int in_chans = 3;
    int num_classes = 0;        // C
    bool distilled = false;     // has dist_token and head_dist
    std::vector<std::string> class_names;  // from metadata, empty when absent
    std::string label_set;                 // e.g. "imagenet1k" from metadata, empty when absent
    std::string evaluation;                // metadata `evaluation`: a JSON object, empty when absent

    // Input normalisation (one value per input channel) and timm's crop_pct; without metadata
    // the ImageNet values DeiT was trained with.
    std::vector<float> mean = {0.485f, 0.456f, 0.406f};
    std::vector<float> std_dev = {0.229f, 0.224f, 0.225f};
    float crop_pct = 0.875f;

    // Sparsifiner connectivity predictor (SPEC section 2); absent for plain DeiT.
    bool sparsifiner = false;
    int predictor_c = 0;        // c = d / reduce_c_factor
    int predictor_K = 0;        // K
    int predictor_N = 0;        // the token count proj_n was trained for
    float keep_rate = 0.25f;
    int basis_coef_topk = 8;
    float basis_threshold = 0.02f;
    std::vector<int> prune_at;   // token-pruning layers, empty when none
    float token_keep = 1.0f;

    int head_dim() const { return embed_dim / num_heads; }
    int grid() const { return img_size / patch_size; }
    int extra_tokens() const { return distilled ? 2 : 1; }
    int tokens() const { return grid() * grid() + extra_tokens(); }
};

struct DeitBlockWeights {
    std::vector<float> norm1_w, norm1_b;   // [D]
    std::vector<float> qkv_w, qkv_b;       // [3D, D], [3D]
    std::vector<float> proj_w, proj_b;     // [D, D], [D]
    std::vector<float> norm2_w, norm2_b;   // [D]
    std::vector<float> fc1_w, fc1_b;       // [hidden, D], [hidden]
    std::vector<float> fc2_w, fc2_b;       // [D, hidden], [D]
    // Sparsifiner only (empty otherwise), under attn.mask_predictor.
    std::vector<float> pred_q_w, pred_q_b;  // proj_c_q [c, d], [c]
    std::vector<float> pred_k_w, pred_k_b;  // proj_c_k [c, d], [c]
    std::vector<float> proj_n;              // [N, K]
    std::vector<float> proj_back_n;         // [N, K]
};

struct DeitWeights {
    DeitConfig config;
    std::string source;                     // the file it came from
    std::string stored_dtype;               // "F32", "F16", "BF16" or "mixed"
    std::vector<float> cls_token;           // [D]
    std::vector<float> dist_token;          // [D] (distilled)
    std::vector<float> pos_embed;           // [T, D] at config.img_size
    std::vector<float> patch_w, patch_b;    // [D, 3, P, P], [D]
    std::vector<DeitBlockWeights> blocks;
    std::vector<float> norm_w, norm_b;      // [D]
    std::vector<float> head_w, head_b;      // [C, D], [C]
    std::vector<float> head_dist_w, head_dist_b;  // distilled
};

// Overrides from the command line, applied before shapes are checked. 0 / empty = not given.
struct DeitConfigOverrides {
    int num_heads = 0;
    int img_size = 0;
    int patch_size = 0;
};

// Reads the geometry from __metadata__ (or infers it from shapes when absent, heads from the
// DeiT table), then loads and checks every tensor. Throws WeightFileError.
DeitWeights deit_weights_load(const SafetensorsFile& file, const DeitConfigOverrides& overrides = {});

}  // namespace sparsifiner
