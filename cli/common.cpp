#include "cli/common.h"

#include <cstdio>
#include <sstream>

#include "build_info.h"
#include "cli/default_model.h"
#include "core/platform/cpu_info.h"
#include "core/kernels/dnnl_context.h"
#include "core/platform/threading.h"

namespace sparsifiner {

void ModelFlags::add_to(CLI::App& command, bool required) {
    command.add_option("-m,--model", path,
                       required ? "Weight file (.safetensors, see weights/convert.py)"
                                : "Weight file (.safetensors, see weights/convert.py); default the bundled "
                                  "fashion_sparsifiner model, or $SPARSIFINER_MODEL when set")
        ->required(required);
    command.add_option("--num-heads", num_heads, "Override the number of attention heads (files without metadata)")
        ->check(CLI::Range(1, 1024));
    command.add_option("--img-size", img_size,
                       "Input size in pixels, a multiple of the patch size (default: the model's own; "
                       "pos_embed is resized)")
        ->check(CLI::Range(1, 8192));
}

void ModelFlags::use_default_if_absent() {
    if (path.empty()) path = default_model_path();
}

DeitWeights model_load(const ModelFlags& flags) {
    try {
        DeitConfigOverrides overrides;
        overrides.num_heads = flags.num_heads;
        SafetensorsFile file = SafetensorsFile::open(flags.path);
        DeitWeights weights = deit_weights_load(file, overrides);
        const int S = flags.img_size > 0 ? flags.img_size : weights.config.img_size;
        if (S % weights.config.patch_size != 0)
            throw CommandError(kExitUsage, "--img-size " + std::to_string(S) + " is not a multiple of the patch size " +
                                               std::to_string(weights.config.patch_size));
        return weights;
    } catch (const WeightFileError& e) {
        throw CommandError(kExitModelError, e.what());
    }
}

void AttentionFlags::add_to(CLI::App& command) {
    command.add_option("--mask", mask,
                       "Attention mask source: dense, learned (Sparsifiner weights; their default), oracle "
                       "(true top-k of q.k), window (nearest keys on the patch grid)");
    command.add_option("--keep-rate", keep_rates,
                       "Keys kept per query, as a share of the tokens: one value, or one per block "
                       "(comma-separated); default the model's trained rate (0.25 for oracle/window on DeiT)");
    command.add_option("--prune-at", prune_at, "Blocks (from 0) after whose attention tokens are pruned, e.g. 3,6,9");
    command.add_option("--token-keep", token_keep,
                       "Token pruning base rate r: the j-th pruning block keeps ceil(r^j x patches) patch tokens")
        ->check(CLI::Range(0.0f, 1.0f));
    command.add_option("--budget-rule", budget_rule,
                       "Keys per query after token pruning: official (default; ceil(keep rate x all tokens), "
                       "at most the alive patches, as Sparsifiner models are trained) or alive (ceil(keep rate x "
                       "alive tokens): the keep rate stays the attention density)");
}

AttentionPlan AttentionFlags::plan_for(const DeitConfig& config) const {
    std::vector<float> rates = keep_rates.empty() ? std::vector<float>() : parse_float_list(keep_rates, "--keep-rate");
    std::vector<int> blocks;
    if (!prune_at.empty())
        for (int b : parse_int_list(prune_at, "--prune-at", 0)) blocks.push_back(b);
    try {
        return attention_plan_make(config, mask, rates, blocks, token_keep, budget_rule);
    } catch (const std::invalid_argument& e) {
        throw CommandError(kExitUsage, e.what());
    }
}

nlohmann::json attention_plan_json(const AttentionPlan& plan) {
    return {{"mask", mask_source_name(plan.mask)},
            {"keep_rate", plan.keep_rate},
            {"prune_at", plan.prune_at},
            {"token_keep", plan.prune_at.empty() ? 1.0f : plan.token_keep},
            {"budget_rule", budget_rule_name(plan.budget_rule)}};
}

std::vector<float> parse_float_list(const std::string& text, const std::string& flag) {
    std::vector<float> values;
    std::stringstream stream(text);
    std::string item;
    while (std::getline(stream, item, ',')) {
        size_t used = 0;
        float value = 0;
        try {
            value = std::stof(item, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == 0 || used != item.size())
            throw CommandError(kExitUsage, flag + ": '" + item + "' is not a number");
        values.push_back(value);
    }
    if (values.empty()) throw CommandError(kExitUsage, flag + ": needs at least one value");
    return values;
}

std::unique_ptr<DeitModel> model_build(const DeitWeights& weights, const ModelFlags& model_flags,
                                       const AttentionFlags& attention_flags) {
    AttentionPlan plan = attention_flags.plan_for(weights.config);
    try {
        auto model = std::make_unique<DeitModel>(weights, model_flags.img_size);
        model->set_attention_plan(plan);
        return model;
    } catch (const std::invalid_argument& e) {
        throw CommandError(kExitUsage, e.what());
    }
}

void threads_apply(int threads) { threads_set(threads); }

nlohmann::json tool_identity() {
    return {{"name", "sparsifiner"},
            {"version", SPARSIFINER_VERSION},
            {"commit", SPARSIFINER_GIT_COMMIT},
            {"build", SPARSIFINER_BUILD_FLAVOUR},
            {"build_type", SPARSIFINER_BUILD_TYPE},
            {"compiler", SPARSIFINER_COMPILER}};
}

nlohmann::json machine_identity() {
    return {{"cpu", cpu_model_name()},
            {"isa", cpu_isa_summary()},
            {"dnnl_isa", dnnl_isa_name()},
            {"threads", threads_get()}};
}

std::vector<int> parse_int_list(const std::string& text, const std::string& flag, int minimum) {
    std::vector<int> values;
    std::stringstream stream(text);
    std::string item;
    while (std::getline(stream, item, ',')) {
        size_t used = 0;
        int value = 0;
        try {
            value = std::stoi(item, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == 0 || used != item.size() || value < minimum || value > 4096)
            throw CommandError(kExitUsage, flag + ": '" + item + "' is not a whole number from " +
                                               std::to_string(minimum) + " to 4096");
        values.push_back(value);
    }
    if (values.empty()) throw CommandError(kExitUsage, flag + ": needs at least one value");
    return values;
}

void report_error(const std::string& message) { std::fprintf(stderr, "sparsifiner: %s\n", message.c_str()); }

}  // namespace sparsifiner
