// CompactBasis::combine's vector kernel against ordered scalar FMAs: per column, fused
// multiply-adds in the order of e, bit for bit, on the path SPARSIFINER_ISA leaves (AVX-512 or AVX2
// for the dense format; the bitmap's AVX-512 expanding load was tried in issue 15 and measured
// slower on Zen 4). Any faster kernel must keep this order so that the masks do not change.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/masks/compact_basis.h"
#include "core/platform/cpu_info.h"

using namespace sparsifiner;

TEST_CASE("CompactBasis::combine equals ordered FMAs exactly (bitmap and dense, partial blocks)") {
    if (!cpu_has_avx2_fma()) return;  // the portable kernel adds without fusing
    std::mt19937 rng(13);
    std::uniform_real_distribution<float> uniform(0.f, 1.f);
    for (int cols : {5, 8, 15, 16, 17, 40, 129}) {
        const int rows = 9;
        std::vector<float> dense(static_cast<size_t>(rows) * cols);
        for (auto& x : dense) x = uniform(rng) < 0.4f ? 0.1f + uniform(rng) : 0.f;
        auto fill = [&](int m, float* row) { std::copy_n(dense.begin() + m * cols, cols, row); };
        const int32_t used[] = {4, 0, 5, 8, 2, 7, 1, 3, 6};
        const float weight[] = {0.37f, 1.25f, 0.011f, 0.73f, 3.1f, 0.29f, 0.6f, 1.7f, 0.05f};
        for (int count : {3, 4, 7, 8, 9}) {
            std::vector<float> want(cols);
            for (int n = 0; n < cols; n++) {
                float sum = 0.f;
                for (int e = 0; e < count; e++) sum = std::fma(weight[e], dense[used[e] * cols + n], sum);
                want[n] = sum;
            }
            for (auto format : {CompactBasis::Format::bitmap, CompactBasis::Format::dense}) {
                CompactBasis basis(rows, cols, fill, format);
                std::vector<float> got(basis.padded_cols(), NAN);
                basis.combine(used, weight, count, got.data());
                CAPTURE(cols);
                CAPTURE(count);
                CAPTURE(static_cast<int>(format));
                int mismatches = 0;
                for (int n = 0; n < cols; n++) mismatches += got[n] != want[n];
                for (int n = cols; n < basis.padded_cols(); n++) mismatches += got[n] != 0.f;
                CHECK(mismatches == 0);
            }
        }
    }
}
