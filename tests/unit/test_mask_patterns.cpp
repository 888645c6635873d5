// Mask patterns (core/masks/mask_patterns.cpp): the window pattern on small grids against expectations
// worked out by hand, the oracle against a brute-force top-k of q.k, and the budget rule.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "core/masks/mask_patterns.h"

using namespace sparsifiner;

namespace {

// Row `query` (a token index >= 1) of a window mask over N tokens.
std::vector<int32_t> window_row(int N, int extra, int grid, int budget, const int32_t* positions, int query) {
    const int used = std::min(std::max(budget, 1), N);
    std::vector<int32_t> rows(static_cast<size_t>(N - 1) * used);
    CHECK(window_mask(N, extra, grid, grid, budget, positions, rows.data()) == used);
    return std::vector<int32_t>(rows.begin() + (query - 1) * used, rows.begin() + query * used);
}

}  // namespace

TEST_CASE("window mask on a 4x4 grid plus cls") {
    // Token t >= 1 is cell ((t-1) / 4, (t-1) % 4).
    // Corner (0,0) = token 1: cls, itself, then (0,1) = 2 and (1,0) = 5 at distance 1.
    CHECK(window_row(17, 1, 4, 4, nullptr, 1) == std::vector<int32_t>{0, 1, 2, 5});
    // (1,1) = token 6: four neighbours at distance 1 (2, 5, 7, 10); budget 4 keeps the two lowest.
    CHECK(window_row(17, 1, 4, 4, nullptr, 6) == std::vector<int32_t>{0, 2, 5, 6});
    CHECK(window_row(17, 1, 4, 6, nullptr, 6) == std::vector<int32_t>{0, 2, 5, 6, 7, 10});
    // Budget 7 adds the lowest of the diagonal cells 1, 3, 9, 11 (distance sqrt 2).
    CHECK(window_row(17, 1, 4, 7, nullptr, 6) == std::vector<int32_t>{0, 1, 2, 5, 6, 7, 10});
    // (3,3) = token 16: itself, 12 and 15 at distance 1, then 11 at sqrt 2.
    CHECK(window_row(17, 1, 4, 5, nullptr, 16) == std::vector<int32_t>{0, 11, 12, 15, 16});
    // The cls key counts toward the budget: budget 1 is the cls key alone.
    CHECK(window_row(17, 1, 4, 1, nullptr, 9) == std::vector<int32_t>{0});
    // Budget N is everything.
    std::vector<int32_t> all(17);
    std::iota(all.begin(), all.end(), 0);
    CHECK(window_row(17, 1, 4, 99, nullptr, 8) == all);
}

TEST_CASE("window mask with a dist token (3x3 grid)") {
    // Tokens: 0 cls, 1 dist, 2 + r*3 + c patches. The dist query keeps the lowest indices.
    CHECK(window_row(11, 2, 3, 3, nullptr, 1) == std::vector<int32_t>{0, 1, 2});
    // Centre (1,1) = token 6: cls, dist, itself, then the lowest neighbour at distance 1: 3.
    CHECK(window_row(11, 2, 3, 4, nullptr, 6) == std::vector<int32_t>{0, 1, 3, 6});
    // A budget below the extra-token count keeps the lowest extra tokens.
    CHECK(window_row(11, 2, 3, 1, nullptr, 6) == std::vector<int32_t>{0});
}

TEST_CASE("window mask after pruning uses the original grid positions") {
    // Survivors of the 4x4 + cls layout: cls, (0,0), (0,2), (1,1), (2,2), (3,3).
    const std::vector<int32_t> positions = {0, 1, 3, 6, 11, 16};
    // Alive token 3 is (1,1): cls, itself, then (0,0), (0,2), (2,2) all at sqrt 2 -> alive 1.
    CHECK(window_row(6, 1, 4, 3, positions.data(), 3) == std::vector<int32_t>{0, 1, 3});
    // Alive token 5 is (3,3): its nearest survivor is (2,2) = alive 4.
    CHECK(window_row(6, 1, 4, 3, positions.data(), 5) == std::vector<int32_t>{0, 4, 5});
    std::vector<int32_t> rows(5 * 3);
    const std::vector<int32_t> unordered = {0, 6, 3, 1, 11, 16};
    CHECK_THROWS(window_mask(6, 1, 4, 4, 3, unordered.data(), rows.data()));
    const std::vector<int32_t> outside = {0, 1, 3, 6, 11, 17};
    CHECK_THROWS(window_mask(6, 1, 4, 4, 3, outside.data(), rows.data()));
    CHECK_THROWS(window_mask(6, 1, 4, 4, 3, nullptr, rows.data()));  // 6 tokens cannot be the full grid
}

TEST_CASE("window mask cache recomputes only when its inputs change") {
    WindowMaskCache cache;
    int used = 0;
    const int32_t* first = cache.get(17, 1, 4, 4, 4, nullptr, &used);
    CHECK(used == 4);
    CHECK(std::vector<int32_t>(first + 5 * 4, first + 6 * 4) == std::vector<int32_t>{0, 2, 5, 6});
    const std::vector<int32_t> positions = {0, 1, 3, 6, 11, 16};
    const int32_t* pruned = cache.get(6, 1, 4, 4, 3, positions.data(), &used);
    CHECK(used == 3);
    CHECK(std::vector<int32_t>(pruned + 2 * 3, pruned + 3 * 3) == std::vector<int32_t>{0, 1, 3});
    const int32_t* again = cache.get(17, 1, 4, 4, 4, nullptr, &used);
    CHECK(std::vector<int32_t>(again + 5 * 4, again + 6 * 4) == std::vector<int32_t>{0, 2, 5, 6});
}

TEST_CASE("oracle mask equals the brute-force top-k of q.k") {
    const int B = 2, H = 2, d = 4, N = 9, budget = 3, D = H * d;
    std::mt19937 rng(4);
    std::normal_distribution<float> normal;
    std::vector<float> qkv(static_cast<size_t>(B) * N * 3 * D);
    for (auto& v : qkv) v = normal(rng);
    // Two identical keys (5 and 3 of image 0, head 1) make exact ties: the lower index must win.
    for (int t = 0; t < d; t++) qkv[5 * 3 * D + D + d + t] = qkv[3 * 3 * D + D + d + t];
    std::vector<int32_t> index(static_cast<size_t>(B) * H * (N - 1) * budget);
    CHECK(oracle_mask(qkv.data(), B, N, H, d, budget, index.data()) == budget);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 1; i < N; i++) {
                std::vector<double> s(N);
                for (int j = 0; j < N; j++) {
                    s[j] = 0;
                    for (int t = 0; t < d; t++)
                        s[j] += double(qkv[(b * N + i) * 3 * D + h * d + t]) * qkv[(b * N + j) * 3 * D + D + h * d + t];
                }
                std::vector<int32_t> order(N);
                std::iota(order.begin(), order.end(), 0);
                std::stable_sort(order.begin(), order.end(), [&](int x, int y) { return s[x] > s[y]; });
                order.resize(budget);
                std::sort(order.begin(), order.end());
                const int32_t* got = &index[((b * H + h) * (N - 1) + i - 1) * budget];
                CAPTURE(b);
                CAPTURE(h);
                CAPTURE(i);
                CHECK(std::vector<int32_t>(got, got + budget) == order);
            }
}

TEST_CASE("mask budget: ceil(keep_rate * N) within [1, N]") {
    CHECK(mask_budget(0.25f, 197) == 50);
    CHECK(mask_budget(0.1f, 200) == 20);  // 0.1f is slightly above 0.1: still 20
    CHECK(mask_budget(0.5f, 196) == 98);
    CHECK(mask_budget(0.5f, 197) == 99);
    CHECK(mask_budget(1.0f, 197) == 197);
    CHECK(mask_budget(3.0f, 10) == 10);
    CHECK(mask_budget(0.0f, 197) == 1);
    CHECK(mask_budget(0.001f, 197) == 1);
}
