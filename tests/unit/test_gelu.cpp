// GELU against the exact erf form in double precision, on every path this CPU can run.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "core/kernels/gelu.h"

using namespace sparsifiner;

static double gelu_exact(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }

TEST_CASE("gelu: every supported path matches the erf form") {
    std::vector<float> inputs;
    for (int i = -200000; i <= 200000; i++) inputs.push_back(i * 1e-4f);  // [-20, 20], 4e5 points
    inputs.push_back(-100.f);
    inputs.push_back(100.f);
    inputs.push_back(-0.0f);
    for (Isa isa : {Isa::portable, Isa::avx2, Isa::avx512}) {
        if (!isa_supported(isa)) {
            MESSAGE("gelu path " << (int)isa << " skipped: this CPU lacks it");
            continue;
        }
        std::vector<float> x = inputs;
        gelu_inplace_isa(isa, x.data(), x.size());  // length not a multiple of 8 or 16: the tail runs too
        double worst = 0;
        for (size_t i = 0; i < x.size(); i++) {
            double exact = gelu_exact(inputs[i]);
            // Absolute error near zero, relative for large |x| where gelu(x) ~ x.
            double err = std::fabs(x[i] - exact) / std::max(1.0, std::fabs(exact));
            worst = std::max(worst, err);
        }
        CAPTURE((int)isa);
        CHECK(worst < 5e-7);
        CHECK(x[x.size() - 2] == doctest::Approx(100.f));  // gelu(100) = 100
        CHECK(x[x.size() - 3] == 0.0f);                     // gelu(-100) = -0
    }
}

TEST_CASE("gelu: the dispatcher's choice equals the chosen path") {
    std::vector<float> a(1000), b(1000);
    for (int i = 0; i < 1000; i++) a[i] = b[i] = (i - 500) * 0.013f;
    gelu_inplace(a.data(), a.size());
    gelu_inplace_isa(isa_best(), b.data(), b.size());  // the best path (under SPARSIFINER_ISA, its cap)
    CHECK(a == b);
}
