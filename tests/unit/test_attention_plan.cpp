// The per-row key budget of an attention plan (core/model/attention_plan.cpp, SPEC 3): the official
// rule keeps ceil(rate x all tokens) after pruning, clamped to the alive patches only; the alive
// rule recomputes it from the alive tokens. Also what the planned MAC counts make of it.
#include <doctest/doctest.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/model/attention_plan.h"
#include "core/model/macs.h"

using namespace sparsifiner;

namespace {

// DeiT-S geometry at 224 with a Sparsifiner predictor (N = 197, K = 32, c = 32).
DeitConfig deit_s_sparsifiner() {
    DeitConfig c;
    c.arch = "deit_small";
    c.embed_dim = 384;
    c.num_heads = 6;
    c.depth = 12;
    c.mlp_hidden = 1536;
    c.num_classes = 1000;
    c.sparsifiner = true;
    c.keep_rate = 0.25f;
    c.predictor_N = 197;
    c.predictor_K = 32;
    c.predictor_c = 32;
    return c;
}

// Tokens alive at the input of each block when pruning at 3, 6, 9 with r = 0.7 (138, 97, 68
// patches survive: ceil(0.7 x 196), ceil(0.49 x 196), ceil(0.343 x 196)).
const std::vector<int> kAlive = {197, 197, 197, 197, 139, 139, 139, 98, 98, 98, 69, 69};

}  // namespace

TEST_CASE("attention plan budget: official keeps ceil(rate x N) after pruning, alive recomputes") {
    const DeitConfig config = deit_s_sparsifiner();
    AttentionPlan plan = attention_plan_make(config, "learned", {0.25f}, {3, 6, 9}, 0.7f);
    CHECK(plan.budget_rule == BudgetRule::official);
    for (int i = 0; i < 12; i++) {
        CAPTURE(i);
        CHECK(attention_plan_budget(plan, i, 197, kAlive[i], 1) == 50);
    }
    plan = attention_plan_make(config, "learned", {0.25f}, {3, 6, 9}, 0.7f, "alive");
    CHECK(plan.budget_rule == BudgetRule::alive);
    for (int i = 0; i < 12; i++) {
        CAPTURE(i);
        CHECK(attention_plan_budget(plan, i, 197, kAlive[i], 1) == (int)std::ceil(0.25 * kAlive[i]));
    }
    CHECK_THROWS_AS(attention_plan_make(config, "learned", {0.25f}, {3}, 0.7f, "full"), std::invalid_argument);
}

TEST_CASE("attention plan budget: the official clamp is to the alive patches, not the alive tokens") {
    const DeitConfig config = deit_s_sparsifiner();
    // Keep rate 0.5: 99 keys; after the third pruning block 68 patches (+ cls) are alive.
    AttentionPlan plan = attention_plan_make(config, "oracle", {0.5f}, {3, 6, 9}, 0.7f);
    CHECK(attention_plan_budget(plan, 3, 197, 197, 1) == 99);  // the pruning block itself: not yet pruned
    CHECK(attention_plan_budget(plan, 4, 197, 139, 1) == 99);
    CHECK(attention_plan_budget(plan, 10, 197, 69, 1) == 68);
    // Keep rate 1: dense before pruning, one key short of dense after it (cls + 68 patches, 68 keys).
    plan = attention_plan_make(config, "window", {1.0f}, {3, 6, 9}, 0.7f);
    CHECK(attention_plan_budget(plan, 0, 197, 197, 1) == 197);
    CHECK(attention_plan_budget(plan, 10, 197, 69, 1) == 68);
    // Distilled models have two extra tokens: the clamp leaves both out.
    CHECK(attention_plan_budget(plan, 10, 198, 70, 2) == 68);
    // Under the alive rule a rate of 1 covers every alive token: dense.
    plan = attention_plan_make(config, "window", {1.0f}, {3, 6, 9}, 0.7f, "alive");
    CHECK(attention_plan_budget(plan, 10, 197, 69, 1) == 69);
    // Dense plans keep every alive key.
    plan = attention_plan_make(config, "dense", {}, {3, 6, 9}, 0.7f);
    CHECK(attention_plan_budget(plan, 10, 197, 69, 1) == 69);
}

TEST_CASE("planned MACs follow the budget rule after pruning") {
    const DeitConfig config = deit_s_sparsifiner();
    const std::vector<long long> nnz(12, 32 * 197 / 3);
    const double D = 384;
    for (const char* rule : {"official", "alive"}) {
        CAPTURE(rule);
        const AttentionPlan plan = attention_plan_make(config, "learned", {0.25f}, {3, 6, 9}, 0.7f, rule);
        const ForwardMacs macs = planned_macs(config, plan, nnz, 224);
        REQUIRE(macs.blocks.size() == 12);
        for (int i = 0; i < 12; i++) {
            CAPTURE(i);
            const double T = kAlive[i];
            const double k = std::string(rule) == "official" ? 50 : std::ceil(0.25 * T);
            CHECK(macs.blocks[i].qk == D * (T + (T - 1) * k));
        }
    }
}
