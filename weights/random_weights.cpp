#include "weights/random_weights.h"

#include <algorithm>
#include <random>

namespace sparsifiner {

DeitConfig deit_config_for_arch(const std::string& arch, int img_size, bool distilled, bool sparsifiner) {
    DeitConfig c;
    if (arch == "deit_tiny") c.embed_dim = 192, c.num_heads = 3;
    else if (arch == "deit_small") c.embed_dim = 384, c.num_heads = 6;
    else if (arch == "deit_base") c.embed_dim = 768, c.num_heads = 12;
    else throw WeightFileError("--arch: '" + arch + "' is not one of deit_tiny, deit_small, deit_base");
    if (img_size <= 0 || img_size % 16 != 0)
        throw WeightFileError("--img-size: " + std::to_string(img_size) + " is not a positive multiple of 16");
    c.arch = arch + "_random";
    c.depth = 12;
    c.mlp_hidden = 4 * c.embed_dim;
    c.patch_size = 16;
    c.img_size = img_size;
    c.num_classes = 1000;
    c.label_set = "imagenet1k";
    c.distilled = distilled;
    if (sparsifiner) {
        c.sparsifiner = true;
        c.predictor_c = c.head_dim() / 2;
        c.predictor_N = c.tokens();
        c.predictor_K = c.predictor_N / 6;
        c.basis_coef_topk = std::min(8, c.predictor_K);
    }
    return c;
}

DeitWeights deit_weights_random(const DeitConfig& c, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.f, 0.02f);
    auto random = [&](size_t n) {
        std::vector<float> v(n);
        for (float& x : v) x = normal(rng);
        return v;
    };
    auto filled = [](size_t n, float value) { return std::vector<float>(n, value); };
    const size_t D = c.embed_dim, hidden = c.mlp_hidden, P = c.patch_size, T = c.tokens();
    DeitWeights w;
    w.config = c;
    w.source = "random seed " + std::to_string(seed);
    w.stored_dtype = "F32";
    w.cls_token = random(D);
    if (c.distilled) w.dist_token = random(D);
    w.pos_embed = random(T * D);
    w.patch_w = random(D * c.in_chans * P * P);
    w.patch_b = filled(D, 0.f);
    for (int i = 0; i < c.depth; i++) {
        DeitBlockWeights b;
        b.norm1_w = filled(D, 1.f), b.norm1_b = filled(D, 0.f);
        b.qkv_w = random(3 * D * D), b.qkv_b = filled(3 * D, 0.f);
        b.proj_w = random(D * D), b.proj_b = filled(D, 0.f);
        b.norm2_w = filled(D, 1.f), b.norm2_b = filled(D, 0.f);
        b.fc1_w = random(hidden * D), b.fc1_b = filled(hidden, 0.f);
        b.fc2_w = random(D * hidden), b.fc2_b = filled(D, 0.f);
        if (c.sparsifiner) {
            const size_t cc = c.predictor_c, d = c.head_dim(), N = c.predictor_N, K = c.predictor_K;
            b.pred_q_w = random(cc * d), b.pred_q_b = filled(cc, 0.f);
            b.pred_k_w = random(cc * d), b.pred_k_b = filled(cc, 0.f);
            // Uniform in [-0.03, 0.03]: |x| > 0.02 for a third of the entries.
            std::uniform_real_distribution<float> uniform(-0.03f, 0.03f);
            b.proj_n.resize(N * K);
            b.proj_back_n.resize(N * K);
            for (float& x : b.proj_n) x = uniform(rng);
            for (float& x : b.proj_back_n) x = uniform(rng);
        }
        w.blocks.push_back(std::move(b));
    }
    w.norm_w = filled(D, 1.f), w.norm_b = filled(D, 0.f);
    w.head_w = random(c.num_classes * D), w.head_b = filled(c.num_classes, 0.f);
    if (c.distilled) w.head_dist_w = random(c.num_classes * D), w.head_dist_b = filled(c.num_classes, 0.f);
    return w;
}

}  // namespace sparsifiner
