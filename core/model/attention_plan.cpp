#include "core/model/attention_plan.h"

#include <algorithm>
#include <stdexcept>

#include "core/masks/mask_patterns.h"

namespace sparsifiner {

const char* mask_source_name(MaskSource source) {
    switch (source) {
        case MaskSource::dense: return "dense";
        case MaskSource::learned: return "learned";
        case MaskSource::oracle: return "oracle";
        case MaskSource::window: return "window";
    }
    return "?";
}

bool mask_source_parse(const std::string& text, MaskSource* source) {
    for (MaskSource s : {MaskSource::dense, MaskSource::learned, MaskSource::oracle, MaskSource::window})
        if (text == mask_source_name(s)) {
            *source = s;
            return true;
        }
    return false;
}

const char* budget_rule_name(BudgetRule rule) {
    return rule == BudgetRule::official ? "official" : "alive";
}

bool budget_rule_parse(const std::string& text, BudgetRule* rule) {
    for (BudgetRule r : {BudgetRule::official, BudgetRule::alive})
        if (text == budget_rule_name(r)) {
            *rule = r;
            return true;
        }
    return false;
}

int attention_plan_budget(const AttentionPlan& plan, int block, int full, int alive, int extra) {
    if (plan.mask == MaskSource::dense) return alive;
    const float rate = plan.keep_rate[block];
    if (plan.budget_rule == BudgetRule::alive) return mask_budget(rate, alive);
    int budget = mask_budget(rate, full);
    // prune_at is sorted: blocks after the first pruning block run on the survivors.
    const bool after_pruning = !plan.prune_at.empty() && block > plan.prune_at.front();
    if (after_pruning) budget = std::max(1, std::min(budget, alive - extra));
    return budget;
}

AttentionPlan attention_plan_default(const DeitConfig& config) {
    AttentionPlan plan;
    if (config.sparsifiner) {
        plan.mask = MaskSource::learned;
        plan.keep_rate.assign(config.depth, config.keep_rate);
        plan.prune_at = config.prune_at;
        plan.token_keep = config.token_keep;
    } else {
        plan.keep_rate.assign(config.depth, 1.0f);
    }
    return plan;
}

AttentionPlan attention_plan_make(const DeitConfig& config, const std::string& mask,
                                  const std::vector<float>& keep_rates, const std::vector<int>& prune_at,
                                  float token_keep, const std::string& budget_rule) {
    AttentionPlan plan = attention_plan_default(config);
    if (!budget_rule.empty() && !budget_rule_parse(budget_rule, &plan.budget_rule))
        throw std::invalid_argument("--budget-rule: '" + budget_rule + "' is not one of official, alive");
    if (!mask.empty() && !mask_source_parse(mask, &plan.mask))
        throw std::invalid_argument("--mask: '" + mask + "' is not one of dense, learned, oracle, window");
    if (plan.mask == MaskSource::learned && !config.sparsifiner)
        throw std::invalid_argument("--mask learned needs Sparsifiner weights (this is a plain DeiT): use --mask "
                                    "oracle or --mask window");
    if (!keep_rates.empty()) {
        if (plan.mask == MaskSource::dense)
            throw std::invalid_argument("--keep-rate needs a mask source: --mask learned, oracle or window");
        if (keep_rates.size() != 1 && (int)keep_rates.size() != config.depth)
            throw std::invalid_argument("--keep-rate: give one value or one per block (" +
                                        std::to_string(config.depth) + "), not " +
                                        std::to_string(keep_rates.size()));
        for (float r : keep_rates)
            if (!(r > 0.0f && r <= 1.0f))
                throw std::invalid_argument("--keep-rate: " + std::to_string(r) + " is not in (0, 1]");
        plan.keep_rate = keep_rates.size() == 1 ? std::vector<float>(config.depth, keep_rates[0]) : keep_rates;
    } else if (plan.mask != MaskSource::learned && plan.mask != MaskSource::dense && !config.sparsifiner) {
        plan.keep_rate.assign(config.depth, 0.25f);  // SPEC 2's default budget
    }
    if (plan.mask == MaskSource::dense) plan.keep_rate.assign(config.depth, 1.0f);
    if (!prune_at.empty()) {
        plan.prune_at = prune_at;
        plan.token_keep = token_keep;
    } else if (token_keep != 1.0f && token_keep > 0.0f) {
        plan.token_keep = token_keep;
    }
    std::sort(plan.prune_at.begin(), plan.prune_at.end());
    for (size_t i = 0; i < plan.prune_at.size(); i++) {
        int block = plan.prune_at[i];
        if (block < 0 || block >= config.depth)
            throw std::invalid_argument("--prune-at: block " + std::to_string(block) + " is not in 0.." +
                                        std::to_string(config.depth - 1));
        if (i > 0 && plan.prune_at[i - 1] == block)
            throw std::invalid_argument("--prune-at: block " + std::to_string(block) + " given twice");
    }
    if (!plan.prune_at.empty() && !(plan.token_keep > 0.0f && plan.token_keep <= 1.0f))
        throw std::invalid_argument("--token-keep: " + std::to_string(plan.token_keep) + " is not in (0, 1]");
    return plan;
}

}  // namespace sparsifiner
