// The block coefficient selection (core/masks/coef_select.h): the vector paths, with the rows of a
// group in vector lanes, against the row-by-row softmax and top-k they replace, bit for bit.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/masks/coef_select.h"

using namespace sparsifiner;

namespace {

enum class RowKind { normal, ties, non_finite };

// rows x ld floats, the first K of each row filled.
std::vector<float> make_rows(RowKind kind, int rows, int K, int ld, std::mt19937& rng) {
    std::normal_distribution<float> normal;
    std::uniform_int_distribution<int> small(0, 3), pick(0, 9);
    std::vector<float> cheap(static_cast<size_t>(rows) * ld, 0.f);
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < K; j++) {
            float& v = cheap[static_cast<size_t>(r) * ld + j];
            if (kind == RowKind::normal) v = normal(rng) * 4;
            // Many equal logits: equal coefficients, where only the lower index may win.
            else if (kind == RowKind::ties) v = static_cast<float>(small(rng));
            else {
                const int p = pick(rng);
                v = p == 0 ? NAN : p == 1 ? -INFINITY : p == 2 && r % 3 == 0 ? INFINITY : normal(rng);
            }
        }
    // A row of one repeated value (every coefficient ties) and, for non-finite rows, one all NaN.
    if (rows > 2)
        for (int j = 0; j < K; j++) {
            cheap[static_cast<size_t>(1) * ld + j] = 0.5f;
            if (kind == RowKind::non_finite) cheap[static_cast<size_t>(2) * ld + j] = NAN;
        }
    return cheap;
}

uint32_t bits_of(float x) {
    uint32_t b;
    std::memcpy(&b, &x, sizeof b);
    return b;
}

// Runs the block path and the row-by-row path `reference` on copies of cheap; counts mismatches.
int mismatches(Isa isa, Isa reference, const std::vector<float>& cheap, int ld, int rows, int K, int topk) {
    std::vector<float> a = cheap, b = cheap;
    std::vector<int32_t> kept_a(static_cast<size_t>(rows) * topk, -1), kept_b(kept_a.size(), -2);
    std::vector<float> weight_a(kept_a.size()), weight_b(kept_a.size());
    const float scale = 0.4082483f;
    coef_select_rows(isa, a.data(), ld, rows, K, scale, topk, kept_a.data(), weight_a.data());
    coef_select_rows_per_row(reference, b.data(), ld, rows, K, scale, topk, kept_b.data(), weight_b.data());
    int bad = 0;
    for (size_t e = 0; e < kept_a.size(); e++)
        bad += kept_a[e] != kept_b[e] || bits_of(weight_a[e]) != bits_of(weight_b[e]);
    return bad;
}

}  // namespace

TEST_CASE("coef select: the vector block paths give the row-by-row softmax and top-k, bit for bit") {
    std::mt19937 rng(11);
    int cases = 0;
    for (Isa isa : {Isa::avx2, Isa::avx512}) {
        if (!isa_supported(isa)) continue;
        for (int K : {1, 2, 7, 8, 9, 15, 16, 17, 33, 96, 100, 682})
            for (int topk : {1, 3, 8, K})  // K: every coefficient kept (when K <= 8)
                for (int rows : {1, 5, 16, 17, 64})
                    for (RowKind kind : {RowKind::normal, RowKind::ties, RowKind::non_finite})
                        for (bool padded : {true, false}) {
                            if (topk > K || topk > kCoefSelectMaxTopk) continue;
                            // The predictor's rows are padded to 16 columns; unpadded rows test
                            // that no column past K is read.
                            const int ld = padded ? (K + 15) / 16 * 16 : K;
                            const std::vector<float> cheap = make_rows(kind, rows, K, ld, rng);
                            INFO(std::string(isa_name(isa)) << " K=" << K << " top " << topk << " rows=" << rows
                                               << " kind=" << static_cast<int>(kind) << " ld=" << ld);
                            // Same path row by row: identical in every case, NaN included.
                            CHECK(mismatches(isa, isa, cheap, ld, rows, K, topk) == 0);
                            // The portable reference: identical on finite rows (the vector e^x
                            // differs from the portable one on NaN only).
                            if (kind != RowKind::non_finite)
                                CHECK(mismatches(isa, Isa::portable, cheap, ld, rows, K, topk) == 0);
                            cases++;
                        }
    }
    INFO(cases << " cases");
    if (!isa_supported(Isa::avx2)) MESSAGE("no vector path on this CPU: only the portable one ran elsewhere");
}

TEST_CASE("coef select: ties go to the lower index, indices come out ascending") {
    // Ten equal logits and two larger ones: the top 4 are the two larger and the first two equal.
    for (Isa isa : {Isa::portable, Isa::avx2, Isa::avx512}) {
        if (!isa_supported(isa)) continue;
        const int K = 12, ld = 16, rows = 3;
        std::vector<float> cheap(static_cast<size_t>(rows) * ld, 0.f);
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < K; j++) cheap[static_cast<size_t>(r) * ld + j] = 1.0f;
            cheap[static_cast<size_t>(r) * ld + 9] = 3.0f;
            cheap[static_cast<size_t>(r) * ld + 4 + r] = 2.0f;
        }
        std::vector<int32_t> kept(static_cast<size_t>(rows) * 4);
        std::vector<float> weight(kept.size());
        coef_select_rows(isa, cheap.data(), ld, rows, K, 1.0f, 4, kept.data(), weight.data());
        INFO(std::string(isa_name(isa)));
        for (int r = 0; r < rows; r++) {
            const std::vector<int32_t> want = {0, 1, 4 + r, 9};
            const std::vector<int32_t> got(kept.begin() + r * 4, kept.begin() + r * 4 + 4);
            INFO("row " << r << ": " << got[0] << " " << got[1] << " " << got[2] << " " << got[3]);
            CHECK(got == want);
            // The weights are the softmax values at those indices: e^(x - 3) / sum.
            const double sum = 10 * std::exp(-2.0) + std::exp(-1.0) + 1.0;
            CHECK(weight[static_cast<size_t>(r) * 4 + 3] == doctest::Approx(1.0 / sum).epsilon(1e-6));
            CHECK(weight[static_cast<size_t>(r) * 4 + 0] == doctest::Approx(std::exp(-2.0) / sum).epsilon(1e-6));
        }
    }
}
