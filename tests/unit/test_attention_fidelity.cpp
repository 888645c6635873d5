// Singular values through LAPACK and the per-head fidelity on matrices whose answers are known
// by hand. (tests/py/test_fidelity.py compares the whole path with the PyTorch reference.)
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "analysis/attention_fidelity.h"

using namespace sparsifiner;

TEST_CASE("singular values of matrices known by hand") {
    // A scaled permutation: singular values are the absolute entries, in descending order.
    std::vector<double> a = {0, 0, -1, 3, 0, 0, 0, 2, 0};
    std::vector<double> s = singular_values(a, 3, 3, 32);
    REQUIRE(s.size() == 3);
    CHECK(s[0] == doctest::Approx(3));
    CHECK(s[1] == doctest::Approx(2));
    CHECK(s[2] == doctest::Approx(1));
    // Wide, row-major [2, 3]: rows orthogonal with norms 5 and 1 -> {5, 1}; top 1 keeps the largest.
    std::vector<double> wide = {3, 4, 0, 0, 0, 1};
    s = singular_values(wide, 2, 3, 32);
    REQUIRE(s.size() == 2);
    CHECK(s[0] == doctest::Approx(5));
    CHECK(s[1] == doctest::Approx(1));
    CHECK(singular_values(wide, 2, 3, 1).size() == 1);
    // Rank 1: one non-zero value.
    std::vector<double> outer = {1, 2, 2, 4, 3, 6};
    s = singular_values(outer, 3, 2, 32);
    CHECK(s[0] == doctest::Approx(std::sqrt(14.0 * 5.0)));
    CHECK(std::fabs(s[1]) < 1e-12);
}

TEST_CASE("head fidelity: equal scores spread the mass evenly") {
    // q = 0: every score is 0, so the dense softmax row is uniform (1/N each) and a row keeping
    // k keys holds k/N of the mass. N = 4 tokens, d = 2, rows of stride 2 floats.
    const int N = 4, d = 2, kept = 2;
    std::vector<float> q(N * d, 0.0f), k = {1, 0, 0, 1, 1, 1, -1, 0}, v = {1, 0, 0, 1, 2, 2, 0, 0};
    std::vector<int32_t> keys = {0, 1, 0, 2, 1, 3};  // rows 1..3
    HeadFidelity f = head_fidelity(q.data(), k.data(), v.data(), d, N, d, keys.data(), kept, nullptr, 32);
    CHECK(f.kept_mass == doctest::Approx(0.5));
    CHECK(head_kept_mass(q.data(), k.data(), d, N, d, keys.data(), kept) == doctest::Approx(0.5));
    // Dense output of every row: the mean of v = (0.75, 0.75). Sparse rows: means of their kept v.
    const double od2 = 4 * (0.75 * 0.75 * 2);
    const double diff2 = 0 + (std::pow(0.5 - 0.75, 2) + std::pow(0.5 - 0.75, 2)) +
                         (std::pow(1.5 - 0.75, 2) + std::pow(1.0 - 0.75, 2)) +
                         (std::pow(0.0 - 0.75, 2) + std::pow(0.5 - 0.75, 2));
    CHECK(f.output_rel_error == doctest::Approx(std::sqrt(diff2 / od2)));
    // The uniform P has rank 1 with singular value 1 (rows of 1/4, four of them).
    REQUIRE(f.dense_singular.size() == 4);
    CHECK(f.dense_singular[0] == doctest::Approx(1));
    CHECK(std::fabs(f.dense_singular[1]) < 1e-12);
    CHECK(f.low_rank_singular.empty());

    // Dense (no key_index): everything kept, no error, the same spectrum.
    HeadFidelity dense = head_fidelity(q.data(), k.data(), v.data(), d, N, d, nullptr, N, nullptr, 32);
    CHECK(dense.kept_mass == 1.0);
    CHECK(dense.output_rel_error == 0.0);
    CHECK(dense.sparse_singular == dense.dense_singular);
}
