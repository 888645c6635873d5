// deit_weights_load: geometry first (metadata, else inferred from shapes, then overrides), then
// every tensor the geometry implies is declared with its expected shape and checked against the
// file before anything is converted. Whatever the file holds beyond that is an error too: a
// tensor nobody reads usually means a geometry or naming mistake that would otherwise go unseen.
#include <cmath>
#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "weights/deit_metadata.h"
#include "weights/deit_weights.h"
#include "weights/error_text.h"

namespace sparsifiner {

namespace {

const std::string predictor_infix = ".attn.mask_predictor.";

[[noreturn]] void fail(const SafetensorsFile& file, const std::string& where, const std::string& problem) {
    throw_weight_error(file.label(), where, problem);
}

const TensorView& require(const SafetensorsFile& file, const std::string& name, const std::string& why) {
    const TensorView* view = file.find(name);
    if (view == nullptr) fail(file, name, "missing tensor (needed to infer " + why + ")");
    return *view;
}

// The dimension `index` of a tensor used for inference, or an error when the rank is wrong.
int64_t inferred_dim(const SafetensorsFile& file, const std::string& name, size_t rank, size_t index,
                     const std::string& what) {
    const TensorView& view = require(file, name, what);
    if (view.shape.size() != rank) {
        fail(file, name, "rank " + std::to_string(view.shape.size()) + " shape " + shape_text(view.shape) +
                             ", expected rank " + std::to_string(rank) + " (inferring " + what + ")");
    }
    return view.shape[index];
}

int checked(const SafetensorsFile& file, const std::string& where, const std::string& what, int64_t value,
            int lo, int hi) {
    if (value < lo || value > hi) {
        fail(file, where, what + " " + std::to_string(value) + " is outside " + std::to_string(lo) + ".." +
                              std::to_string(hi));
    }
    return static_cast<int>(value);
}

// Metadata `key` when present, else inferred from a tensor's shape.
int meta_or_shape(const SafetensorsFile& file, const MetadataReader& meta, const std::string& key, int lo, int hi,
                  const std::string& name, size_t rank, size_t index) {
    if (meta.has(key)) return meta.integer(key, lo, hi);
    return checked(file, name, key, inferred_dim(file, name, rank, index, key), lo, hi);
}

// "blocks.{i}." prefix of a tensor name -> i, or -1 when the name is not a block tensor.
int block_index(const std::string& name) {
    const std::string prefix = "blocks.";
    if (name.compare(0, prefix.size(), prefix) != 0) return -1;
    size_t dot = name.find('.', prefix.size());
    if (dot == std::string::npos) return -1;
    std::string digits = name.substr(prefix.size(), dot - prefix.size());
    if (digits.size() > 1 && digits[0] == '0') return -1;  // "blocks.01" is not block 1
    int index = 0;
    if (!parse_bounded_int(digits, 0, 1000000, &index)) return -1;
    return index;
}

const char* deit_arch_name(int embed_dim, int depth) {
    if (depth == 12 && embed_dim == 192) return "deit_tiny";
    if (depth == 12 && embed_dim == 384) return "deit_small";
    if (depth == 12 && embed_dim == 768) return "deit_base";
    return "custom";
}

void read_geometry(const SafetensorsFile& file, const MetadataReader& meta, const DeitConfigOverrides& overrides,
                   DeitConfig* config) {
    if (meta.has("format") && meta.text("format") != "sparsifiner-deit") {
        meta.fail("format", "\"" + printable_name(meta.text("format")) + "\" is not sparsifiner-deit");
    }
    if (meta.has("format_version")) meta.integer("format_version", 1, 1);

    config->embed_dim = meta_or_shape(file, meta, "embed_dim", 1, 8192, "cls_token", 3, 2);

    if (meta.has("depth")) {
        config->depth = meta.integer("depth", 1, 64);
    } else {
        int deepest = -1;
        for (const TensorView& view : file.tensors()) deepest = std::max(deepest, block_index(view.name));
        if (deepest < 0) {
            fail(file, "blocks.0.norm1.weight", "missing tensor (no blocks.{i} tensors found to infer depth)");
        }
        config->depth = checked(file, "blocks." + std::to_string(deepest), "depth", deepest + 1LL, 1, 64);
    }

    config->mlp_hidden = meta_or_shape(file, meta, "mlp_hidden", 1, 65536, "blocks.0.mlp.fc1.weight", 2, 0);
    const std::string patch_name = "patch_embed.proj.weight";
    if (overrides.patch_size != 0) {
        config->patch_size = checked(file, "patch_size", "override", overrides.patch_size, 1, 64);
    } else {
        config->patch_size = meta_or_shape(file, meta, "patch_size", 1, 64, patch_name, 4, 2);
    }
    config->in_chans = meta_or_shape(file, meta, "in_chans", 1, 16, patch_name, 4, 1);
    config->num_classes = meta_or_shape(file, meta, "num_classes", 1, 100000, "head.weight", 2, 0);

    if (meta.has("distilled")) config->distilled = meta.boolean("distilled");
    else config->distilled = file.find("dist_token") != nullptr;

    if (overrides.img_size != 0) {
        config->img_size = checked(file, "img_size", "override", overrides.img_size, 1, 4096);
    } else if (meta.has("img_size")) {
        config->img_size = meta.integer("img_size", 1, 4096);
    } else {
        int64_t tokens = inferred_dim(file, "pos_embed", 3, 1, "img_size");
        checked(file, "pos_embed", "token count", tokens, 1, 4096 * 4096 + 2);  // bounds the search below
        int64_t patches = tokens - config->extra_tokens();
        int64_t grid = 0;
        while ((grid + 1) * (grid + 1) <= patches) grid++;
        if (patches < 1 || grid * grid != patches) {
            fail(file, "pos_embed", std::to_string(tokens) + " tokens is not a square patch grid plus " +
                                        std::to_string(config->extra_tokens()) + " extra tokens");
        }
        config->img_size = checked(file, "pos_embed", "img_size", grid * config->patch_size, 1, 4096);
    }
    if (config->img_size % config->patch_size != 0) {
        fail(file, meta.has("img_size") && overrides.img_size == 0 ? "__metadata__.img_size" : "img_size",
             "img_size " + std::to_string(config->img_size) + " is not a multiple of patch_size " +
                 std::to_string(config->patch_size));
    }

    const int D = config->embed_dim;
    if (overrides.num_heads != 0) {
        config->num_heads = checked(file, "num_heads", "override", overrides.num_heads, 1, D);
    } else if (meta.has("num_heads")) {
        config->num_heads = meta.integer("num_heads", 1, D);
    } else if (D == 192 || D == 384 || D == 768) {
        config->num_heads = D / 64;  // the DeiT table: head dim 64 throughout
    } else {
        fail(file, "__metadata__.num_heads", "absent, and embed_dim " + std::to_string(D) +
                                                 " is not a DeiT size (192, 384, 768): give --num-heads");
    }
    if (D % config->num_heads != 0) {
        fail(file, "num_heads",
             std::to_string(config->num_heads) + " heads do not divide embed_dim " + std::to_string(D));
    }

    config->arch = meta.has("arch") ? meta.text("arch") : deit_arch_name(D, config->depth);
    if (meta.has("label_set")) config->label_set = meta.text("label_set");
    if (meta.has("class_names")) {
        config->class_names = meta.string_list("class_names");
        if (config->class_names.size() != static_cast<size_t>(config->num_classes)) {
            meta.fail("class_names", std::to_string(config->class_names.size()) + " names for " +
                                         std::to_string(config->num_classes) + " classes");
        }
    }
    // Informative only (how the file's model measured, as its maker recorded it); shown by `info`.
    if (meta.has("evaluation")) {
        nlohmann::json evaluation = nlohmann::json::parse(meta.text("evaluation"), nullptr, false);
        if (evaluation.is_discarded() || !evaluation.is_object()) meta.fail("evaluation", "not a JSON object");
        config->evaluation = meta.text("evaluation");
    }
}

// mean / std: one value per input channel, or one for all; an RGB model without them gets
// ImageNet's (DeiT's training values), any other channel count has no sensible default.
std::vector<float> channel_values(const MetadataReader& meta, const std::string& key, int in_chans,
                                  const std::vector<float>& rgb_default, bool positive) {
    if (!meta.has(key)) {
        if (in_chans == 3) return rgb_default;
        meta.fail(key, "absent: a model with in_chans " + std::to_string(in_chans) +
                           " needs mean and std in its metadata (ImageNet's are for RGB)");
    }
    std::vector<float> values = positive ? meta.real_list(key, 0.0f, 1e6f, true) : meta.real_list(key, -1e6f, 1e6f, false);
    if (values.size() == 1) values.assign(in_chans, values[0]);
    if (values.size() != static_cast<size_t>(in_chans)) {
        meta.fail(key, std::to_string(values.size()) + " values for in_chans " + std::to_string(in_chans) +
                           " (give one per channel, or one for all)");
    }
    return values;
}

void read_preprocessing(const MetadataReader& meta, DeitConfig* config) {
    config->mean = channel_values(meta, "mean", config->in_chans, config->mean, false);
    config->std_dev = channel_values(meta, "std", config->in_chans, config->std_dev, true);
    if (meta.has("crop_pct")) config->crop_pct = meta.real("crop_pct", 0.0f, 1.0f, true);
}

// The predictor's own sizes come from the shapes of block 0; every block is then checked against them.
void read_predictor_geometry(const SafetensorsFile& file, const MetadataReader& meta, DeitConfig* config) {
    bool present = false;
    for (const TensorView& view : file.tensors()) {
        if (view.name.find(predictor_infix) != std::string::npos) present = true;
    }
    config->sparsifiner = meta.has("sparsifiner") ? meta.boolean("sparsifiner") : present;
    if (!config->sparsifiner) return;

    const std::string prefix = "blocks.0" + predictor_infix;
    const std::string why = "the predictor size (the predictor must be in every block or none)";
    auto predictor_dim = [&](const std::string& name, size_t index, const std::string& what, int hi) {
        return checked(file, prefix + name, what, inferred_dim(file, prefix + name, 2, index, why), 1, hi);
    };
    config->predictor_c = predictor_dim("proj_c_q.weight", 0, "c", config->head_dim());
    config->predictor_N = predictor_dim("proj_n", 0, "N", 1 << 20);
    config->predictor_K = predictor_dim("proj_n", 1, "K", config->predictor_N);
    if (config->predictor_N != config->tokens()) {
        fail(file, prefix + "proj_n", "trained for " + std::to_string(config->predictor_N) +
                                          " tokens, but pos_embed has " + std::to_string(config->tokens()));
    }
    if (meta.has("reduce_c_factor")) {
        int factor = meta.integer("reduce_c_factor", 1, config->head_dim());
        int c = config->head_dim() / factor;
        if (c != config->predictor_c) {
            meta.fail("reduce_c_factor", std::to_string(factor) + " gives c = " + std::to_string(c) +
                                             ", the tensors have c = " + std::to_string(config->predictor_c));
        }
    }
    if (meta.has("reduce_n_factor")) {
        int factor = meta.integer("reduce_n_factor", 1, config->predictor_N);
        int K = config->predictor_N / factor;
        if (K != config->predictor_K) {
            meta.fail("reduce_n_factor", std::to_string(factor) + " gives K = " + std::to_string(K) +
                                             ", the tensors have K = " + std::to_string(config->predictor_K));
        }
    }
}

// Budgets and pruning apply to plain DeiT too (oracle and window masks), so they are read either way.
void read_sparsity_options(const MetadataReader& meta, DeitConfig* config) {
    if (meta.has("keep_rate")) config->keep_rate = meta.real("keep_rate", 0.0f, 1.0f, true);
    if (meta.has("basis_coef_topk")) {
        int most = config->sparsifiner ? config->predictor_K : 1 << 20;
        config->basis_coef_topk = meta.integer("basis_coef_topk", 1, most);
    }
    if (meta.has("basis_threshold")) config->basis_threshold = meta.real("basis_threshold", 0.0f, 1e6f, false);
    if (meta.has("prune_at")) config->prune_at = meta.integer_list("prune_at", 0, config->depth - 1);
    if (meta.has("token_keep")) config->token_keep = meta.real("token_keep", 0.0f, 1.0f, true);
}

// Declared tensors: checked for presence and shape first, converted only once all are known good.
class TensorPlan {
public:
    explicit TensorPlan(const SafetensorsFile& file) : file_(file) {}

    void expect(const std::string& name, const std::vector<int64_t>& shape, std::vector<float>* out) {
        const TensorView* view = file_.find(name);
        if (view == nullptr) {
            bool predictor = name.find(predictor_infix) != std::string::npos;
            fail(file_, name, predictor ? "missing tensor (the predictor must be in every block or none)"
                                        : "missing tensor");
        }
        if (view->shape != shape) {
            fail(file_, name, "expected " + shape_text(shape) + ", found " + shape_text(view->shape));
        }
        claimed_.insert(name);
        loads_.push_back({view, out});
    }

    void check_nothing_left() const {
        for (const TensorView& view : file_.tensors()) {
            if (claimed_.count(view.name) == 0) {
                fail(file_, view.name, "unexpected tensor " + printable_name(view.name));
            }
        }
    }

    std::string stored_dtype() const {
        std::set<std::string> names;
        for (const auto& load : loads_) names.insert(dtype_name(load.view->dtype));
        return names.size() == 1 ? *names.begin() : "mixed";
    }

    void load_all() {
        for (const auto& load : loads_) {
            load.out->resize(static_cast<size_t>(load.view->numel()));
            tensor_to_f32(*load.view, load.out->data());
            // NaN or infinity in a weight can only poison every output (NaN probabilities); a
            // trained model never holds one, so the file is refused, naming the tensor.
            for (float value : *load.out)
                if (!std::isfinite(value)) fail(file_, load.view->name, "holds NaN or infinite values");
        }
    }

private:
    struct Load {
        const TensorView* view;
        std::vector<float>* out;
    };
    const SafetensorsFile& file_;
    std::set<std::string> claimed_;
    std::vector<Load> loads_;
};

void declare_tensors(const DeitConfig& config, DeitWeights* weights, TensorPlan* plan) {
    const int64_t D = config.embed_dim, hidden = config.mlp_hidden, P = config.patch_size;
    const int64_t C = config.num_classes, T = config.tokens();
    plan->expect("cls_token", {1, 1, D}, &weights->cls_token);
    if (config.distilled) plan->expect("dist_token", {1, 1, D}, &weights->dist_token);
    plan->expect("pos_embed", {1, T, D}, &weights->pos_embed);
    plan->expect("patch_embed.proj.weight", {D, config.in_chans, P, P}, &weights->patch_w);
    plan->expect("patch_embed.proj.bias", {D}, &weights->patch_b);
    weights->blocks.resize(config.depth);
    for (int i = 0; i < config.depth; i++) {
        DeitBlockWeights& block = weights->blocks[i];
        const std::string prefix = "blocks." + std::to_string(i) + ".";
        plan->expect(prefix + "norm1.weight", {D}, &block.norm1_w);
        plan->expect(prefix + "norm1.bias", {D}, &block.norm1_b);
        plan->expect(prefix + "attn.qkv.weight", {3 * D, D}, &block.qkv_w);
        plan->expect(prefix + "attn.qkv.bias", {3 * D}, &block.qkv_b);
        plan->expect(prefix + "attn.proj.weight", {D, D}, &block.proj_w);
        plan->expect(prefix + "attn.proj.bias", {D}, &block.proj_b);
        if (config.sparsifiner) {
            const std::string pred = prefix + "attn.mask_predictor.";
            const int64_t c = config.predictor_c, d = config.head_dim();
            const int64_t N = config.predictor_N, K = config.predictor_K;
            plan->expect(pred + "proj_c_q.weight", {c, d}, &block.pred_q_w);
            plan->expect(pred + "proj_c_q.bias", {c}, &block.pred_q_b);
            plan->expect(pred + "proj_c_k.weight", {c, d}, &block.pred_k_w);
            plan->expect(pred + "proj_c_k.bias", {c}, &block.pred_k_b);
            plan->expect(pred + "proj_n", {N, K}, &block.proj_n);
            plan->expect(pred + "proj_back_n", {N, K}, &block.proj_back_n);
        }
        plan->expect(prefix + "norm2.weight", {D}, &block.norm2_w);
        plan->expect(prefix + "norm2.bias", {D}, &block.norm2_b);
        plan->expect(prefix + "mlp.fc1.weight", {hidden, D}, &block.fc1_w);
        plan->expect(prefix + "mlp.fc1.bias", {hidden}, &block.fc1_b);
        plan->expect(prefix + "mlp.fc2.weight", {D, hidden}, &block.fc2_w);
        plan->expect(prefix + "mlp.fc2.bias", {D}, &block.fc2_b);
    }
    plan->expect("norm.weight", {D}, &weights->norm_w);
    plan->expect("norm.bias", {D}, &weights->norm_b);
    plan->expect("head.weight", {C, D}, &weights->head_w);
    plan->expect("head.bias", {C}, &weights->head_b);
    if (config.distilled) {
        plan->expect("head_dist.weight", {C, D}, &weights->head_dist_w);
        plan->expect("head_dist.bias", {C}, &weights->head_dist_b);
    }
}

}  // namespace

DeitWeights deit_weights_load(const SafetensorsFile& file, const DeitConfigOverrides& overrides) {
    MetadataReader meta(file);
    DeitWeights weights;
    weights.source = file.label();
    read_geometry(file, meta, overrides, &weights.config);
    read_preprocessing(meta, &weights.config);
    read_predictor_geometry(file, meta, &weights.config);
    read_sparsity_options(meta, &weights.config);

    TensorPlan plan(file);
    declare_tensors(weights.config, &weights, &plan);
    plan.check_nothing_left();
    weights.stored_dtype = plan.stored_dtype();
    plan.load_all();
    return weights;
}

}  // namespace sparsifiner
