// The bf16 sparse attention core (--dtype bf16): q k and p v on bf16 dot products, the softmax and
// the accumulation in f32. Checked two ways: against a reference written here that rounds q
// (times 1/8), K, V and the probabilities to bf16 as the core promises and does the rest in double
// (tight: a mistake in the pairing or the element order is off by O(1); what remains is the f32
// accumulation and a probability whose last-bit difference from the double exp rounds it to the
// other bf16 neighbour, up to ~1e-4 here), and against the f32 core within bf16 tolerance; on kept keys, the dense cls row, its probabilities, odd key counts (the last pair
// half empty), k = 1 and k = N, and a mask shared by every head (index stride 0).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "core/kernels/bf16_convert.h"
#include "core/kernels/sparse_attention.h"
#include "core/kernels/sparse_attention_bf16.h"

using namespace sparsifiner;

namespace {

float bf(float x) { return bf16_to_f32(bf16_round(x)); }

// One query row against its keys, as the bf16 core defines it, in double after the roundings.
void reference_row(const float* q, const std::vector<const float*>& keys, const std::vector<const float*>& values,
                   double* out, std::vector<double>& probs) {
    const size_t n = keys.size();
    std::vector<double> s(n);
    double max_s = -INFINITY;
    for (size_t t = 0; t < n; t++) {
        double dot = 0;
        for (int c = 0; c < 64; c++) dot += (double)bf(q[c] * 0.125f) * bf(keys[t][c]);
        s[t] = (float)dot;  // the core's scores are f32
        max_s = std::max(max_s, s[t]);
    }
    double sum = 0;
    for (size_t t = 0; t < n; t++) sum += (s[t] = std::exp(s[t] - max_s));
    probs.assign(n, 0);
    for (int c = 0; c < 64; c++) out[c] = 0;
    for (size_t t = 0; t < n; t++) {
        probs[t] = s[t] / sum;
        const double p = bf((float)s[t]);  // the probabilities enter p v in bf16 (unnormalised)
        for (int c = 0; c < 64; c++) out[c] += p * bf(values[t][c]);
    }
    for (int c = 0; c < 64; c++) out[c] /= sum;
}

}  // namespace

TEST_CASE("bf16 sparse attention: against a bf16-rounding reference and the f32 core") {
    if (!sparse_attention_bf16_fits(64)) {
        MESSAGE("skipped: no AVX512_BF16 on this CPU");
        return;
    }
    CHECK_FALSE(sparse_attention_bf16_fits(32));
    struct Shape {
        int B, N, H, k;
        bool shared;
    };
    const Shape shapes[] = {{2, 197, 3, 50, false}, {1, 65, 2, 17, false}, {1, 40, 2, 1, false},
                            {1, 33, 2, 33, false},  {2, 50, 2, 13, true},  {1, 1, 2, 1, false}};
    for (const Shape& sh : shapes) {
        const int D = sh.H * 64;
        std::mt19937 rng(11 + sh.N);
        std::normal_distribution<float> normal(0.f, 1.f);
        std::vector<float> qkv((size_t)sh.B * sh.N * 3 * D);
        for (float& v : qkv) v = normal(rng);
        const long long rows = sh.N - 1;
        const long long masks = sh.shared ? 1 : (long long)sh.B * sh.H;
        std::vector<int32_t> index(std::max<long long>(1, masks * rows * sh.k));
        std::vector<int32_t> all(sh.N);
        for (long long r = 0; r < masks * rows; r++) {
            for (int j = 0; j < sh.N; j++) all[j] = j;
            std::shuffle(all.begin(), all.end(), rng);
            std::sort(all.begin(), all.begin() + sh.k);
            std::copy_n(all.begin(), sh.k, index.begin() + r * sh.k);
        }
        const long long stride = sh.shared ? 0 : -1;
        std::vector<float> out((size_t)sh.B * sh.N * D, NAN), f32(out.size());
        std::vector<float> cls((size_t)sh.B * sh.H * sh.N), cls_f32(cls.size());
        sparse_attention_forward_bf16(qkv.data(), index.data(), out.data(), cls.data(), sh.B, sh.N, sh.H, 64, sh.k, stride);
        sparse_attention_forward(qkv.data(), index.data(), f32.data(), cls_f32.data(), sh.B, sh.N, sh.H, 64, sh.k, stride);
        double worst_ref = 0, worst_f32 = 0, worst_probs = 0;
        for (int b = 0; b < sh.B; b++)
            for (int h = 0; h < sh.H; h++)
                for (int i = 0; i < sh.N; i++) {
                    const float* row = qkv.data() + ((size_t)b * sh.N + i) * 3 * D;
                    std::vector<const float*> keys, values;
                    const int count = i == 0 ? sh.N : sh.k;
                    for (int t = 0; t < count; t++) {
                        const long long mask = sh.shared ? 0 : (long long)b * sh.H + h;
                        const int j = i == 0 ? t : index[(mask * rows + i - 1) * sh.k + t];
                        const float* token = qkv.data() + ((size_t)b * sh.N + j) * 3 * D;
                        keys.push_back(token + D + h * 64);
                        values.push_back(token + 2 * D + h * 64);
                    }
                    double want[64];
                    std::vector<double> probs;
                    reference_row(row + h * 64, keys, values, want, probs);
                    const float* got = out.data() + ((size_t)b * sh.N + i) * D + h * 64;
                    const float* got_f32 = f32.data() + ((size_t)b * sh.N + i) * D + h * 64;
                    for (int c = 0; c < 64; c++) {
                        worst_ref = std::max(worst_ref, std::fabs(got[c] - want[c]));  // NaN: never set
                        worst_f32 = std::max(worst_f32, (double)std::fabs(got[c] - got_f32[c]));
                        if (!(std::fabs(got[c] - want[c]) < 1e9)) worst_ref = INFINITY;
                    }
                    if (i == 0)
                        for (int t = 0; t < sh.N; t++)
                            worst_probs = std::max(worst_probs, std::fabs(cls[((size_t)b * sh.H + h) * sh.N + t] - probs[t]));
                }
        INFO("B " << sh.B << " N " << sh.N << " H " << sh.H << " k " << sh.k << std::string(sh.shared ? " shared" : "")
                  << ": |out - reference| " << worst_ref << ", |out - f32 core| " << worst_f32 << ", |cls probs - reference| "
                  << worst_probs);
        CHECK(worst_ref < 5e-4);    // values ~1; see the top of the file
        CHECK(worst_f32 < 0.03);    // bf16 rounding of q, k, v and p
        CHECK(worst_probs < 1e-5);
    }
}
