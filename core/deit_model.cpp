#include "core/deit_model.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "core/layernorm.h"
#include "core/pos_embed.h"

namespace sparsifiner {

DeitModel::DeitModel(const DeitWeights& w, int img_size)
    : config_(w.config), attention_(w.config.num_heads, w.config.head_dim()) {
    const DeitConfig& c = config_;
    img_size_ = img_size > 0 ? img_size : c.img_size;
    if (img_size_ % c.patch_size != 0)
        throw std::invalid_argument("input size " + std::to_string(img_size_) +
                                    " is not a multiple of the patch size " + std::to_string(c.patch_size));
    grid_ = img_size_ / c.patch_size;
    extra_ = c.extra_tokens();
    tokens_ = grid_ * grid_ + extra_;
    const int D = c.embed_dim, P = c.patch_size, rows = tokens_;

    cls_token_ = w.cls_token;
    dist_token_ = w.dist_token;
    pos_embed_ = pos_embed_resize(w.pos_embed, extra_, c.grid(), grid_, D);
    // The k=s=P convolution is a Linear over flattened (channel, y, x) patches.
    patch_embed_ = Linear(w.patch_w.data(), w.patch_b.data(), c.in_chans * P * P, D, LinearEpilogue::bias,
                          grid_ * grid_);
    blocks_.resize(c.depth);
    for (int i = 0; i < c.depth; i++) {
        const DeitBlockWeights& bw = w.blocks[i];
        Block& b = blocks_[i];
        b.norm1_w = bw.norm1_w; b.norm1_b = bw.norm1_b;
        b.norm2_w = bw.norm2_w; b.norm2_b = bw.norm2_b;
        b.qkv = Linear(bw.qkv_w.data(), bw.qkv_b.data(), D, 3 * D, LinearEpilogue::bias, rows);
        b.proj = Linear(bw.proj_w.data(), bw.proj_b.data(), D, D, LinearEpilogue::bias_residual, rows);
        b.fc1 = Linear(bw.fc1_w.data(), bw.fc1_b.data(), D, c.mlp_hidden, LinearEpilogue::bias_gelu, rows);
        b.fc2 = Linear(bw.fc2_w.data(), bw.fc2_b.data(), c.mlp_hidden, D, LinearEpilogue::bias_residual, rows);
    }
    norm_w_ = w.norm_w;
    norm_b_ = w.norm_b;
    head_ = Linear(w.head_w.data(), w.head_b.data(), D, c.num_classes, LinearEpilogue::bias, 1);
    if (c.distilled)
        head_dist_ = Linear(w.head_dist_w.data(), w.head_dist_b.data(), D, c.num_classes, LinearEpilogue::bias, 1);
}

DeitModel::Buffers DeitModel::buffers_for(int B) {
    const size_t D = config_.embed_dim, H = config_.num_heads, T = tokens_, C = config_.num_classes;
    const size_t cells = (size_t)grid_ * grid_, patch_len = (size_t)config_.in_chans * config_.patch_size * config_.patch_size;
    const size_t sizes[] = {
        B * T * D,                    // x: the residual stream
        B * T * D,                    // xn: LayerNorm output
        B * T * 3 * D,                // qkv
        B * T * D,                    // attn: attention output, [B, T, H, d]
        B * H * T * T,                // scores / probabilities
        B * T * config_.mlp_hidden,   // hidden: GELU(fc1)
        B * cells * patch_len,        // patches
        B * cells * D,                // patch_out
        B * extra_ * D,               // features: final-normed cls (and dist) rows
        B * C,                        // logits2: the distillation head
    };
    size_t total = 0;
    for (size_t s : sizes) total += Workspace::padded(s);
    workspace_.reserve(total);
    float* p = workspace_.base();
    float* carved[10];
    for (int i = 0; i < 10; i++) {
        carved[i] = p;
        p += Workspace::padded(sizes[i]);
    }
    return {carved[0], carved[1], carved[2], carved[3], carved[4],
            carved[5], carved[6], carved[7], carved[8], carved[9]};
}

// images [B, 3, S, S] -> x [B, T, D] = [cls, (dist,)] patches W^T + b, plus pos_embed.
void DeitModel::embed(const float* images, int B, const Buffers& buf) {
    const int P = config_.patch_size, S = img_size_, D = config_.embed_dim, chans = config_.in_chans;
    const int cells = grid_ * grid_, patch_len = chans * P * P;
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int cell = 0; cell < cells; cell++) {
            const int py = cell / grid_, px = cell % grid_;
            float* dst = buf.patches + ((size_t)b * cells + cell) * patch_len;
            for (int ch = 0; ch < chans; ch++)
                for (int y = 0; y < P; y++) {
                    const float* src = images + (((size_t)b * chans + ch) * S + py * P + y) * S + px * P;
                    std::copy(src, src + P, dst + (ch * P + y) * P);
                }
        }
    patch_embed_.forward(buf.patches, buf.patch_out, B * cells);
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int t = 0; t < tokens_; t++) {
            float* x = buf.x + ((size_t)b * tokens_ + t) * D;
            const float* pos = pos_embed_.data() + (size_t)t * D;
            const float* token = t == 0 ? cls_token_.data()
                               : t < extra_ ? dist_token_.data()
                               : buf.patch_out + ((size_t)b * cells + t - extra_) * D;
            for (int i = 0; i < D; i++) x[i] = token[i] + pos[i];
        }
}

// x += proj(attn(LN1(x))); x += fc2(GELU(fc1(LN2(x)))).
void DeitModel::block_forward(Block& block, int B, const Buffers& buf) {
    const int D = config_.embed_dim, rows = B * tokens_;
    layernorm_forward(buf.xn, buf.x, block.norm1_w.data(), block.norm1_b.data(), rows, D, D, D);
    block.qkv.forward(buf.xn, buf.qkv, rows);
    attention_.forward(buf.qkv, buf.scores, buf.attn, B, tokens_);
    block.proj.forward(buf.attn, buf.x, rows);
    layernorm_forward(buf.xn, buf.x, block.norm2_w.data(), block.norm2_b.data(), rows, D, D, D);
    block.fc1.forward(buf.xn, buf.hidden, rows);
    block.fc2.forward(buf.hidden, buf.x, rows);
}

// Final LayerNorm on the cls (and dist) rows only: the head reads nothing else.
void DeitModel::head_forward(int B, const Buffers& buf, float* logits) {
    const int D = config_.embed_dim, C = config_.num_classes;
    for (int e = 0; e < extra_; e++)
        layernorm_forward(buf.features + (size_t)e * B * D, buf.x + (size_t)e * D, norm_w_.data(),
                          norm_b_.data(), B, D, tokens_ * D, D);
    head_.forward(buf.features, logits, B);
    if (!config_.distilled) return;
    // Distilled DeiT at inference: the mean of the class head and the distillation head.
    head_dist_.forward(buf.features + (size_t)B * D, buf.logits2, B);
    for (int i = 0; i < B * C; i++) logits[i] = 0.5f * (logits[i] + buf.logits2[i]);
}

void DeitModel::forward(const float* images, int B, float* logits, const BlockObserver& observer) {
    Buffers buf = buffers_for(B);
    embed(images, B, buf);
    for (int i = 0; i < config_.depth; i++) {
        block_forward(blocks_[i], B, buf);
        if (observer) observer(i, buf.x, B, tokens_, config_.embed_dim);
    }
    head_forward(B, buf, logits);
}

std::string DeitModel::linear_implementation(int B) {
    return blocks_.empty() ? "" : blocks_[0].qkv.implementation(B * tokens_);
}

}  // namespace sparsifiner
