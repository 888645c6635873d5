// The bf16 fused attention core (--dtype bf16): q K^T and P V on bf16 dot products, the softmax and
// the accumulation in f32. It must match the f32 fused kernel within bf16 rounding at token counts
// that are not multiples of the tiles (odd ones too: the last key pair is half padding), and must
// not equal it (equal outputs would mean the bf16 products never ran).
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/kernels/fused_attention.h"
#include "core/kernels/fused_attention_bf16.h"

using namespace sparsifiner;

TEST_CASE("bf16 fused attention matches the f32 fused kernel within bf16 tolerance") {
    struct Shape {
        int B, N, H, d;
    };
    const Shape shapes[] = {{2, 197, 6, 64}, {1, 50, 2, 16}, {1, 131, 3, 48}, {1, 1, 2, 64}, {1, 65, 1, 32}};
    for (const Shape& s : shapes) {
        if (!fused_attention_bf16_fits(s.d)) {
            MESSAGE("skipped: no AVX512_BF16 on this CPU");
            return;
        }
        const int D = s.H * s.d;
        std::mt19937 rng(7);
        std::normal_distribution<float> normal(0.f, 1.f);
        std::vector<float> qkv((size_t)s.B * s.N * 3 * D);
        for (float& v : qkv) v = normal(rng);
        std::vector<float> f32((size_t)s.B * s.N * D), bf16(f32.size());
        fused_attention_forward(qkv.data(), f32.data(), nullptr, s.B, s.N, s.H, s.d);
        fused_attention_forward_bf16(qkv.data(), bf16.data(), s.B, s.N, s.H, s.d);
        // Outputs are convex combinations of V rows (|v| ~ 1). Rounding q, k, v and p to bf16
        // (relative 2^-9 each) moved them by at most 0.006 on these shapes; 0.02 leaves a margin.
        double worst = 0;
        int differing = 0;
        for (size_t i = 0; i < f32.size(); i++) {
            worst = std::max(worst, (double)std::fabs(f32[i] - bf16[i]));
            differing += f32[i] != bf16[i];
        }
        INFO("B " << s.B << " N " << s.N << " H " << s.H << " d " << s.d << ": max |bf16 - f32| " << worst << ", "
                  << differing << " of " << f32.size() << " differ");
        CHECK(worst < 0.02);
        CHECK(differing > (int)f32.size() / 2);
    }
}
