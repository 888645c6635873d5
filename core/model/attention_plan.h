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

// How many keys a non-cls query row keeps once tokens have been pruned (SPEC 3).
enum class BudgetRule {
    // The official Sparsifiner model's rule, what its models are fine-tuned with: the budget is
    // ceil(keep_rate x N) of the FULL token count N (cls included) in every block, and after a
    // pruning block only clamped to the number of alive patch tokens (50 keys per row at 0.25
    // for N = 197, before and after pruning).
    official,
    // ceil(keep_rate x T) of the T tokens alive at the block: a constant share of the keys that
    // are present, so the keep rate stays the attention density after pruning (for studying
    // density against quality; not what models are trained with).
    alive,
};

const char* budget_rule_name(BudgetRule rule);
// "official", "alive"; false for anything else.
bool budget_rule_parse(const std::string& text, BudgetRule* rule);

struct AttentionPlan {
    MaskSource mask = MaskSource::dense;
    BudgetRule budget_rule = BudgetRule::official;
    std::vector<float> keep_rate;  // one per block (0 < rate <= 1)
    std::vector<int> prune_at;     // blocks (from 0) whose attention ranks tokens for pruning
    float token_keep = 1.0f;       // r: the j-th pruning block keeps ceil(r^(j+1) * patches)
};

// Keys kept per non-cls query row at `block`, whose input has `alive` tokens of the `full` count
// (extra = cls and dist tokens, never pruned). alive when the plan is dense; a result >= alive
// keeps every key (dense attention). Under the official rule, after the first pruning block the
// budget is at most the alive PATCH count (alive - extra), as in the official code, which clamps
// to its token mask of patches: one key of the alive cls + patches is then still dropped.
int attention_plan_budget(const AttentionPlan& plan, int block, int full, int alive, int extra);

// The plan a model runs with when the user says nothing: learned masks at the trained keep
// rate (and the trained pruning, if any) for Sparsifiner weights, dense attention otherwise.
AttentionPlan attention_plan_default(const DeitConfig& config);

// Fills in the plan from the user's flags. keep_rates: empty (keep the default), one value for
// every block, or one per block. budget_rule: empty (official) or a budget_rule_name. Throws std::invalid_argument with a one-line reason.
AttentionPlan attention_plan_make(const DeitConfig& config, const std::string& mask,
                                  const std::vector<float>& keep_rates, const std::vector<int>& prune_at,
                                  float token_keep, const std::string& budget_rule = "");

}  // namespace sparsifiner
