#pragma once
// From the model flags to a model ready to run: load and check the weight file, build the model
// at the requested size with the requested attention plan. Errors are one-line CommandErrors.
#include <memory>

#include <nlohmann/json.hpp>

#include "cli/flags.h"
#include "core/model/deit_model.h"
#include "weights/deit_weights.h"

namespace sparsifiner {

// Loads and validates the weight file; throws CommandError(kExitModelError) naming the file.
// With announce, a model chosen because -m was omitted is named on stderr.
DeitWeights model_load(const ModelFlags& flags, bool announce = true);

// The model at the requested input size with the requested attention plan; a combination that
// cannot run (a foreign size for learned masks, ...) is CommandError(kExitUsage). The dtype is
// the flags' one (model_flags.dtype_one()) unless given.
std::unique_ptr<DeitModel> model_build(const DeitWeights& weights, const ModelFlags& model_flags,
                                       const AttentionFlags& attention_flags);
std::unique_ptr<DeitModel> model_build(const DeitWeights& weights, const ModelFlags& model_flags,
                                       const AttentionFlags& attention_flags, Dtype dtype);

// A loaded model and the configuration it was built from (the weights themselves are dropped:
// oneDNN and the kernels hold their own copies).
struct OpenModel {
    std::unique_ptr<DeitModel> model;
    DeitConfig config;
};

// model_load + model_build (the flags' one dtype), the weights released afterwards.
OpenModel model_open(const ModelFlags& model_flags, const AttentionFlags& attention_flags);

// {"mask", "keep_rate": [per block], "prune_at", "token_keep", "budget_rule"}.
nlohmann::json attention_plan_json(const AttentionPlan& plan);

}  // namespace sparsifiner
