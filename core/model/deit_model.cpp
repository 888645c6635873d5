#include "core/model/deit_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "core/kernels/layernorm.h"
#include "core/masks/mask_patterns.h"
#include "core/model/pos_embed.h"
#include "core/kernels/sparse_attention.h"
#include "core/kernels/sparse_attention_bf16.h"
#include "core/platform/timing.h"
#include "core/kernels/topk.h"

namespace sparsifiner {

// Runs the ops of one block: op(BlockOp::qkv, [&] { ... }) runs the step and, in timed runs,
// adds its wall time to the block's BlockStats (the observer's stats). Untimed runs only call.
struct DeitModel::OpTimer {
    BlockStats* block = nullptr;  // nullptr: untimed
    template <typename Step>
    void operator()(BlockOp op, Step&& step) const {
        if (!block) {
            step();
            return;
        }
        const double start = seconds_now();
        step();
        block->seconds[(size_t)op] += seconds_now() - start;
    }
};

template <typename T>
static T* grow_to(std::vector<T>& buffer, size_t size) {
    if (buffer.size() < size) buffer.resize(size);
    return buffer.data();
}

DeitModel::DeitModel(const DeitWeights& w, int img_size, Dtype dtype)
    : config_(w.config), dtype_(dtype), attention_(w.config.num_heads, w.config.head_dim()) {
    const DeitConfig& c = config_;
    img_size_ = img_size > 0 ? img_size : c.img_size;
    if (img_size_ % c.patch_size != 0)
        throw std::invalid_argument("input size " + std::to_string(img_size_) +
                                    " is not a multiple of the patch size " + std::to_string(c.patch_size));
    grid_ = img_size_ / c.patch_size;
    extra_ = c.extra_tokens();
    tokens_ = grid_ * grid_ + extra_;
    const int D = c.embed_dim, P = c.patch_size, rows = tokens_;
    attention_.set_dtype(dtype);

    cls_token_ = w.cls_token;
    dist_token_ = w.dist_token;
    pos_embed_ = pos_embed_resize(w.pos_embed, extra_, c.grid(), grid_, D);
    // The k=s=P convolution is a Linear over flattened (channel, y, x) patches.
    patch_embed_ = Linear(w.patch_w.data(), w.patch_b.data(), c.in_chans * P * P, D, LinearEpilogue::bias,
                          grid_ * grid_, dtype);
    blocks_.resize(c.depth);
    for (int i = 0; i < c.depth; i++) {
        const DeitBlockWeights& bw = w.blocks[i];
        Block& b = blocks_[i];
        b.norm1_w = bw.norm1_w; b.norm1_b = bw.norm1_b;
        b.norm2_w = bw.norm2_w; b.norm2_b = bw.norm2_b;
        b.qkv = Linear(bw.qkv_w.data(), bw.qkv_b.data(), D, 3 * D, LinearEpilogue::bias, rows, dtype);
        b.proj = Linear(bw.proj_w.data(), bw.proj_b.data(), D, D, LinearEpilogue::bias_residual, rows, dtype);
        b.fc1 = Linear(bw.fc1_w.data(), bw.fc1_b.data(), D, c.mlp_hidden, LinearEpilogue::bias_gelu, rows, dtype);
        b.fc2 = Linear(bw.fc2_w.data(), bw.fc2_b.data(), c.mlp_hidden, D, LinearEpilogue::bias_residual, rows, dtype);
        if (c.sparsifiner) b.predictor = std::make_unique<MaskPredictor>(bw, c);
    }
    norm_w_ = w.norm_w;
    norm_b_ = w.norm_b;
    head_ = Linear(w.head_w.data(), w.head_b.data(), D, c.num_classes, LinearEpilogue::bias, 1, dtype);
    if (c.distilled)
        head_dist_ = Linear(w.head_dist_w.data(), w.head_dist_b.data(), D, c.num_classes, LinearEpilogue::bias, 1, dtype);
    // Unchecked here: a Sparsifiner model at a foreign input size fails in set_attention_plan,
    // which the caller runs with the user's choices.
    plan_ = attention_plan_default(c);
    mask_builders_make();
}

// One mask builder per block for the plan's source (none for dense attention).
void DeitModel::mask_builders_make() {
    mask_builders_.clear();
    for (int i = 0; i < config_.depth; i++)
        mask_builders_.push_back(plan_.mask == MaskSource::learned && !blocks_[i].predictor
                                     ? nullptr
                                     : mask_builder_make(plan_.mask, {blocks_[i].predictor.get(), extra_, grid_}));
}

void DeitModel::set_attention_plan(const AttentionPlan& plan) {
    if ((int)plan.keep_rate.size() != config_.depth)
        throw std::invalid_argument("the attention plan needs one keep rate per block");
    if (plan.mask == MaskSource::learned) {
        if (!config_.sparsifiner)
            throw std::invalid_argument("learned masks need Sparsifiner weights: use --mask oracle or window");
        if (tokens_ != config_.predictor_N)
            throw std::invalid_argument("the learned predictor was trained for " + std::to_string(config_.predictor_N) +
                                        " tokens but input size " + std::to_string(img_size_) + " gives " +
                                        std::to_string(tokens_) + ": use --mask oracle or --mask window");
    }
    plan_ = plan;
    mask_builders_make();
}

DeitModel::Buffers DeitModel::buffers_for(int B) {
    const size_t D = config_.embed_dim, H = config_.num_heads, T = tokens_, C = config_.num_classes;
    const size_t cells = (size_t)grid_ * grid_, patch_len = (size_t)config_.in_chans * config_.patch_size * config_.patch_size;
    const size_t sizes[] = {
        B * T * D,                    // x: the residual stream
        B * T * D,                    // xn: LayerNorm output
        B * T * 3 * D,                // qkv
        B * T * D,                    // attn: attention output, [B, T, H, d]
        // scores / probabilities: only the oneDNN dense core keeps them (the fused one and the
        // sparse kernel need no N x N buffer; at 4097 tokens it would be 400 MB per image for DeiT-S)
        dense_core_for((int)T, config_.head_dim()) == DenseCore::onednn ? B * H * T * T : 0,
        B * T * config_.mlp_hidden,   // hidden: GELU(fc1)
        B * cells * patch_len,        // patches
        B * cells * D,                // patch_out
        B * extra_ * D,               // features: final-normed cls (and dist) rows
        B * C,                        // logits2: the distillation head
        B * H * T,                    // cls_probs: the cls row of attention, for token pruning
    };
    constexpr int count = sizeof(sizes) / sizeof(sizes[0]);
    size_t total = 0;
    for (size_t s : sizes) total += Workspace::padded(s);
    workspace_.reserve(total);
    float* carved[count];
    float* p = workspace_.base();
    for (int i = 0; i < count; i++) {
        carved[i] = p;
        p += Workspace::padded(sizes[i]);
    }
    return {carved[0], carved[1], carved[2], carved[3], carved[4], carved[5],
            carved[6], carved[7], carved[8], carved[9], carved[10]};
}

// images [B, in_chans, S, S] -> x [B, T, D] = [cls, (dist,)] patches W^T + b, plus pos_embed.
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

// The kept keys of every non-cls query row, [B, H, T-1, k], from the block's mask source.
int DeitModel::masks_build(int index, int B, const Buffers& buf, const TokenState& tokens, int budget,
                           PredictorCounts* counts, PredictorSeconds* phases) {
    const int T = tokens.T, H = config_.num_heads;
    int32_t* key_index = grow_to(key_index_, (size_t)B * H * (T - 1) * budget);
    const MaskInput input{buf.qkv, B, T, H, config_.head_dim(), budget, tokens.positions, T != tokens_};
    return mask_builders_[index]->build(input, key_index, MaskReport{counts, phases});
}

void DeitModel::attention_forward(int index, int B, const Buffers& buf, const TokenState& tokens,
                                  bool want_cls_probs, const ForwardObserver* observer, const OpTimer& op) {
    const int T = tokens.T, H = config_.num_heads, d = config_.head_dim();
    const int budget = attention_plan_budget(plan_, index, tokens_, T, extra_);
    BlockStats* stats = observer && observer->stats ? &observer->stats->blocks[index] : nullptr;
    float* cls_probs = want_cls_probs ? buf.cls_probs : nullptr;
    // A budget that keeps every key is exactly dense attention (SPEC 2), and faster that way.
    if (budget >= T) {
        if (stats) stats->mask = MaskSource::dense, stats->kept_keys = T;
        if (observer && observer->masks) observer->masks(index, nullptr, tokens.positions, B, H, T, T);
        op(BlockOp::attention, [&] {
            DenseAttentionSeconds parts;
            const DenseCore core = attention_.forward(buf.qkv, buf.scores, buf.attn, cls_probs, B, T, op.block ? &parts : nullptr);
            if (stats) stats->attention_fused = core == DenseCore::fused;
            if (op.block) {
                op.block->sub_seconds[(size_t)SubOp::qk] += parts.qk;
                op.block->sub_seconds[(size_t)SubOp::softmax] += parts.softmax;
                op.block->sub_seconds[(size_t)SubOp::pv] += parts.pv;
            }
        });
        return;
    }
    // Sub-op times only in timed runs: the predictor's phases, or the whole build for oracle and window.
    int k = 0;
    op(BlockOp::mask, [&] {
        PredictorSeconds phases{};
        const double start = op.block ? seconds_now() : 0;
        k = masks_build(index, B, buf, tokens, budget, stats ? &stats->predictor : nullptr,
                        op.block && plan_.mask == MaskSource::learned ? &phases : nullptr);
        if (!op.block) return;
        if (plan_.mask == MaskSource::learned)
            for (int p = 0; p < (int)PredictorPhase::count; p++)
                op.block->sub_seconds[(size_t)sub_op_of((PredictorPhase)p)] += phases[p];
        else
            op.block->sub_seconds[(size_t)(plan_.mask == MaskSource::oracle ? SubOp::topk : SubOp::pattern)] +=
                seconds_now() - start;
    });
    if (stats) stats->mask = plan_.mask, stats->kept_keys = k;
    if (observer && observer->masks) observer->masks(index, key_index_.data(), tokens.positions, B, H, T, k);
    // --dtype bf16: the kept keys' K and V gathered in bf16 (half the bytes) where the CPU has it.
    op(BlockOp::attention, [&] {
        if (dtype_ == Dtype::bf16 && sparse_attention_bf16_fits(d))
            sparse_attention_forward_bf16(buf.qkv, key_index_.data(), buf.attn, cls_probs, B, T, H, d, k);
        else
            sparse_attention_forward(buf.qkv, key_index_.data(), buf.attn, cls_probs, B, T, H, d, k);
    });
}

// Token pruning (SPEC 3): keep the extra tokens and the ceil(rate * patches) patch tokens the
// cls row attends to most (mean over heads), in their original order; the rest are removed.
void DeitModel::tokens_prune(int index, int B, Buffers& buf, TokenState& tokens) {
    const int T = tokens.T, H = config_.num_heads, D = config_.embed_dim, alive_patches = T - extra_;
    const int which = (int)(std::find(plan_.prune_at.begin(), plan_.prune_at.end(), index) - plan_.prune_at.begin());
    const float rate = std::pow(plan_.token_keep, (float)(which + 1));
    const int keep = std::min(alive_patches, mask_budget(rate, grid_ * grid_));
    const int new_T = extra_ + keep;
    if (new_T == T) return;

    int32_t* survivors = grow_to(survivors_, (size_t)B * keep);
    std::vector<float>& score = prune_scores_;
    score.resize(alive_patches);
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < alive_patches; t++) {
            float sum = 0;
            for (int h = 0; h < H; h++) sum += buf.cls_probs[((size_t)b * H + h) * T + extra_ + t];
            score[t] = sum / H;
        }
        topk_select(score.data(), alive_patches, keep, survivors + (size_t)b * keep);
    }
    // Compact in place, image by image, row by row: a destination never lies after its source.
    for (int b = 0; b < B; b++)
        for (int j = 0; j < new_T; j++) {
            const int from = j < extra_ ? j : extra_ + survivors[(size_t)b * keep + j - extra_];
            std::memmove(buf.x + ((size_t)b * new_T + j) * D, buf.x + ((size_t)b * T + from) * D, D * sizeof(float));
            tokens.positions[(size_t)b * new_T + j] = tokens.positions[(size_t)b * T + from];
        }
    tokens.T = new_T;
}

// x += proj(attn(LN1(x))); [prune]; x += fc2(GELU(fc1(LN2(x)))).
void DeitModel::block_forward(int index, int B, Buffers& buf, TokenState& tokens, const ForwardObserver* observer) {
    Block& block = blocks_[index];
    const int D = config_.embed_dim;
    const bool prune_here =
        std::find(plan_.prune_at.begin(), plan_.prune_at.end(), index) != plan_.prune_at.end();
    BlockStats* stats = observer && observer->stats ? &observer->stats->blocks[index] : nullptr;
    if (stats) *stats = BlockStats{}, stats->tokens_in = tokens.T;
    const OpTimer op{stats && observer->stats->timed ? stats : nullptr};
    int rows = B * tokens.T;
    op(BlockOp::ln1, [&] { layernorm_forward(buf.xn, buf.x, block.norm1_w.data(), block.norm1_b.data(), rows, D, D, D); });
    op(BlockOp::qkv, [&] { block.qkv.forward(buf.xn, buf.qkv, rows); });
    if (observer && observer->qkv) observer->qkv(index, buf.qkv, B, tokens.T);
    attention_forward(index, B, buf, tokens, prune_here, observer, op);  // mask, then attention
    op(BlockOp::proj, [&] { block.proj.forward(buf.attn, buf.x, rows); });
    // The MLP works token by token, so pruning before it gives the survivors the same values
    // as pruning after the block, and spares the MLP the dropped rows.
    if (prune_here) {
        op(BlockOp::prune, [&] { tokens_prune(index, B, buf, tokens); });
        rows = B * tokens.T;
    }
    if (stats) stats->tokens_out = tokens.T;
    op(BlockOp::ln2, [&] { layernorm_forward(buf.xn, buf.x, block.norm2_w.data(), block.norm2_b.data(), rows, D, D, D); });
    op(BlockOp::fc1_gelu, [&] { block.fc1.forward(buf.xn, buf.hidden, rows); });
    op(BlockOp::fc2, [&] { block.fc2.forward(buf.hidden, buf.x, rows); });
}

// Final LayerNorm on the cls (and dist) rows only: the head reads nothing else.
void DeitModel::head_forward(int B, const Buffers& buf, const TokenState& tokens, float* logits) {
    const int D = config_.embed_dim, C = config_.num_classes;
    for (int e = 0; e < extra_; e++)
        layernorm_forward(buf.features + (size_t)e * B * D, buf.x + (size_t)e * D, norm_w_.data(),
                          norm_b_.data(), B, D, tokens.T * D, D);
    head_.forward(buf.features, logits, B);
    if (!config_.distilled) return;
    // Distilled DeiT at inference: the mean of the class head and the distillation head.
    head_dist_.forward(buf.features + (size_t)B * D, buf.logits2, B);
    for (int i = 0; i < B * C; i++) logits[i] = 0.5f * (logits[i] + buf.logits2[i]);
}

void DeitModel::forward(const float* images, int B, float* logits, const ForwardObserver* observer) {
    Buffers buf = buffers_for(B);
    int32_t* positions = grow_to(positions_, (size_t)B * tokens_);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < tokens_; t++) positions[(size_t)b * tokens_ + t] = t;
    TokenState tokens{tokens_, positions};
    ForwardStats* stats = observer ? observer->stats : nullptr;
    if (stats) {
        stats->batch = B;
        stats->blocks.resize(config_.depth);
        stats->seconds = {};
    }
    const double start = stats ? seconds_now() : 0;
    embed(images, B, buf);
    const double embedded = stats ? seconds_now() : 0;
    for (int i = 0; i < config_.depth; i++) {
        block_forward(i, B, buf, tokens, observer);
        if (observer && observer->hidden) observer->hidden(i, buf.x, B, tokens.T, config_.embed_dim);
    }
    const double blocks_done = stats ? seconds_now() : 0;
    head_forward(B, buf, tokens, logits);
    if (stats) {
        const double end = seconds_now();
        stats->seconds[(size_t)ModelOp::patch_embed] = embedded - start;
        stats->seconds[(size_t)ModelOp::head] = end - blocks_done;
        stats->total_seconds = end - start;
    }
}

std::vector<DeitModel::LinearImplementation> DeitModel::linear_implementations(const ForwardStats& stats) {
    std::vector<LinearImplementation> list;
    auto add = [&](const char* layer, Linear& linear, int rows) {
        for (const auto& entry : list)
            if (entry.layer == layer && entry.rows == rows) return;
        list.push_back({layer, rows, linear.implementation(rows)});
    };
    const int B = stats.batch;
    add("patch_embed", patch_embed_, B * grid_ * grid_);
    for (size_t i = 0; i < blocks_.size() && i < stats.blocks.size(); i++) {
        // Attention's Linears see the tokens alive at the block's input, the MLP's the survivors.
        add("qkv", blocks_[i].qkv, B * stats.blocks[i].tokens_in);
        add("proj", blocks_[i].proj, B * stats.blocks[i].tokens_in);
        add("fc1", blocks_[i].fc1, B * stats.blocks[i].tokens_out);
        add("fc2", blocks_[i].fc2, B * stats.blocks[i].tokens_out);
    }
    add("head", head_, B);
    if (config_.distilled) add("head_dist", head_dist_, B);
    return list;
}

}  // namespace sparsifiner
