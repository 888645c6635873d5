#include "cli/model_open.h"

#include <cstdio>
#include <cstdlib>

#include "weights/safetensors.h"

namespace sparsifiner {

namespace {

// Once, so that a result is never mistaken for one of the user's own model.
void announce_bundled(const ModelFlags& flags) {
    if (!flags.bundled) return;
    const char* from_env = std::getenv("SPARSIFINER_MODEL");
    std::fprintf(stderr, "sparsifiner: no -m given: using %s%s\n", flags.path.c_str(),
                 from_env != nullptr && from_env[0] != '\0' ? " ($SPARSIFINER_MODEL)" : " (the bundled model)");
}

}  // namespace

DeitWeights model_load(const ModelFlags& flags, bool announce) {
    try {
        DeitConfigOverrides overrides;
        overrides.num_heads = flags.num_heads;
        SafetensorsFile file = SafetensorsFile::open(flags.path);
        DeitWeights weights = deit_weights_load(file, overrides);
        const int S = flags.img_size > 0 ? flags.img_size : weights.config.img_size;
        if (S % weights.config.patch_size != 0)
            throw CommandError(kExitUsage, "--img-size " + std::to_string(S) + " is not a multiple of the patch size " +
                                               std::to_string(weights.config.patch_size));
        if (announce) announce_bundled(flags);
        return weights;
    } catch (const WeightFileError& e) {
        throw CommandError(kExitModelError, e.what());
    }
}

std::unique_ptr<DeitModel> model_build(const DeitWeights& weights, const ModelFlags& model_flags,
                                       const AttentionFlags& attention_flags) {
    return model_build(weights, model_flags, attention_flags, model_flags.dtype_one());
}

std::unique_ptr<DeitModel> model_build(const DeitWeights& weights, const ModelFlags& model_flags,
                                       const AttentionFlags& attention_flags, Dtype dtype) {
    AttentionPlan plan = attention_flags.plan_for(weights.config);
    try {
        auto model = std::make_unique<DeitModel>(weights, model_flags.img_size, dtype);
        model->set_attention_plan(plan);
        return model;
    } catch (const std::invalid_argument& e) {
        throw CommandError(kExitUsage, e.what());
    }
}

OpenModel model_open(const ModelFlags& model_flags, const AttentionFlags& attention_flags) {
    model_flags.dtypes();  // a refused dtype fails before the weights are read
    DeitWeights weights = model_load(model_flags, false);
    OpenModel open;
    open.model = model_build(weights, model_flags, attention_flags);
    announce_bundled(model_flags);  // after the checks: an error stays one line
    open.config = weights.config;
    return open;  // the weights are released here
}

nlohmann::json attention_plan_json(const AttentionPlan& plan) {
    return {{"mask", mask_source_name(plan.mask)},
            {"keep_rate", plan.keep_rate},
            {"prune_at", plan.prune_at},
            {"token_keep", plan.prune_at.empty() ? 1.0f : plan.token_keep},
            {"budget_rule", budget_rule_name(plan.budget_rule)}};
}

}  // namespace sparsifiner
