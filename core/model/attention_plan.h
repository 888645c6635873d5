#pragma once
// How attention is computed in each block of a run: which mask source picks the kept keys, at
// what budget, and where tokens are pruned (SPEC sections 2-4).
#include <string>
#include <vector>

#include "weights/deit_weights.h"

namespace sparsifiner {

enum class MaskSource {
    dense,    // every query attends to every key
    learned,  // the Sparsifiner connectivity predictor (SPEC 2), needs Sparsifiner weights
    oracle,   // the true top-k of q.k per row (SPEC 4): an upper bound for any predictor
    window,   // the nearest keys on the patch grid (SPEC 4): the fixed local pattern
};

const char* mask_source_name(MaskSource source);
// "dense", "learned", "oracle", "window"; false for anything else.
bool mask_source_parse(const std::string& text, MaskSource* source);

struct AttentionPlan {
    MaskSource mask = MaskSource::dense;
    std::vector<float> keep_rate;  // one per block (0 < rate <= 1)
    std::vector<int> prune_at;     // blocks (from 0) whose attention ranks tokens for pruning
    float token_keep = 1.0f;       // r: the j-th pruning block keeps ceil(r^(j+1) * patches)
};

// The plan a model runs with when the user says nothing: learned masks at the trained keep
// rate (and the trained pruning, if any) for Sparsifiner weights, dense attention otherwise.
AttentionPlan attention_plan_default(const DeitConfig& config);

// Fills in the plan from the user's flags. keep_rates: empty (keep the default), one value for
// every block, or one per block. Throws std::invalid_argument with a one-line reason.
AttentionPlan attention_plan_make(const DeitConfig& config, const std::string& mask,
                                  const std::vector<float>& keep_rates, const std::vector<int>& prune_at,
                                  float token_keep);

}  // namespace sparsifiner
