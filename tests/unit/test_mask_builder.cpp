// The MaskBuilder interface (core/masks/mask_builder.h): each source behind it writes what its
// function writes (oracle_mask, window_mask per image and head), dense has no builder, and
// learned without a predictor is refused.
#include <doctest/doctest.h>

#include <random>
#include <stdexcept>
#include <vector>

#include "core/masks/mask_builder.h"
#include "core/masks/mask_patterns.h"

using namespace sparsifiner;

TEST_CASE("mask_builder_make: dense has none, learned needs a predictor") {
    CHECK(mask_builder_make(MaskSource::dense, {nullptr, 1, 4}) == nullptr);
    CHECK_THROWS_AS(mask_builder_make(MaskSource::learned, {nullptr, 1, 4}), std::invalid_argument);
    CHECK(mask_builder_make(MaskSource::oracle, {nullptr, 1, 4}) != nullptr);
    CHECK(mask_builder_make(MaskSource::window, {nullptr, 1, 4}) != nullptr);
}

TEST_CASE("oracle and window builders write what their functions write") {
    const int B = 2, grid = 4, extra = 1, T = grid * grid + extra, H = 3, d = 8, budget = 5;
    std::mt19937 rng(5);
    std::normal_distribution<float> normal;
    std::vector<float> qkv(static_cast<size_t>(B) * T * 3 * H * d);
    for (float& v : qkv) v = normal(rng);
    std::vector<int32_t> positions(static_cast<size_t>(B) * T);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) positions[static_cast<size_t>(b) * T + t] = t;
    const MaskInput input{qkv.data(), B, T, H, d, budget, positions.data(), false};
    const size_t per_head = static_cast<size_t>(T - 1) * budget;

    std::vector<int32_t> got(B * H * per_head, -1), want(B * H * per_head, -2);
    CHECK(mask_builder_make(MaskSource::oracle, {nullptr, extra, grid})->build(input, got.data(), {}) == budget);
    oracle_mask(qkv.data(), B, T, H, d, budget, want.data());
    CHECK(got == want);

    std::fill(got.begin(), got.end(), -1);
    CHECK(mask_builder_make(MaskSource::window, {nullptr, extra, grid})->build(input, got.data(), {}) == budget);
    std::vector<int32_t> rows(per_head);
    window_mask(T, extra, grid, grid, budget, positions.data(), rows.data());
    for (int bh = 0; bh < B * H; bh++)
        CHECK(std::equal(rows.begin(), rows.end(), got.begin() + bh * per_head));
}
