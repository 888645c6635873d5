#pragma once
// The coefficient softmax (coef_softmax.h) written once over the vector vocabulary V and
// instantiated in coef_softmax_avx2.cpp and _avx512.cpp, which are built with -ffp-contract=off
// like coef_softmax.cpp: every multiply and add here stays a separate rounding, exactly as in the
// portable loops, so all builds give the same bits.
//   - the scale, the exponentials and the normalisation are element by element: any width gives
//     the portable values;
//   - the maximum is exact whatever the order (NaN entries are skipped, as the portable loop's
//     comparison skips them: max(x, acc) returns acc when x is NaN);
//   - the sum keeps the portable association: eight partial sums, lane l taking entries l, l + 8,
//     ... in order (one 8-float vector accumulator, then the scalar tail), combined as a tree.
// Include only inside a target region, after the vocabulary (and simd_avx2.h for the sum).
#include <cmath>

namespace sparsifiner {
namespace {

// coef_softmax.cpp's exp_nonpositive_inline, lane by lane. For inputs that are not NaN the two
// give the same bits (the inputs are x - max <= 0; NaN gives 0 here).
template <class V>
typename V::Vec coef_exp(typename V::Vec x) {
    using Vec = typename V::Vec;
    const Vec clamped = V::max(x, V::set1(-87.3f));
    const Vec n = V::truncate(V::sub(V::mul(clamped, V::set1(1.44269504088896341f)), V::set1(0.5f)));
    Vec r = V::sub(clamped, V::mul(n, V::set1(0.693359375f)));
    r = V::sub(r, V::mul(n, V::set1(-2.12194440e-4f)));
    Vec p = V::set1(1.9875691500e-4f);
    p = V::add(V::mul(p, r), V::set1(1.3981999507e-3f));
    p = V::add(V::mul(p, r), V::set1(8.3334519073e-3f));
    p = V::add(V::mul(p, r), V::set1(4.1665795894e-2f));
    p = V::add(V::mul(p, r), V::set1(1.6666665459e-1f));
    p = V::add(V::mul(p, r), V::set1(5.0000001201e-1f));
    p = V::add(V::mul(p, V::mul(r, r)), r);
    p = V::add(p, V::set1(1.0f));
    return V::zero_below(x, -87.3f, V::mul(p, V::pow2(n)));
}

template <class V>
void coef_softmax_vector(float* row, int K, float scale) {
    using Vec = typename V::Vec;
    constexpr int W = V::width;
    const int full = K / W * W;
    const Vec vscale = V::set1(scale);
    Vec vmax = V::set1(-INFINITY);
    for (int m = 0; m < full; m += W) {
        const Vec x = V::mul(V::load(row + m), vscale);
        V::store(row + m, x);
        vmax = V::max(x, vmax);
    }
    float max_value = V::hmax(vmax);
    for (int m = full; m < K; m++) {
        row[m] *= scale;
        max_value = row[m] > max_value ? row[m] : max_value;
    }
    const Vec vtop = V::set1(max_value);
    for (int m = 0; m < K; m += W) {
        const int n = K - m < W ? K - m : W;
        V::store_head(row + m, n, coef_exp<V>(V::sub(V::load_head(row + m, n), vtop)));
    }
    __m256 partial = _mm256_setzero_ps();
    const int full8 = K / 8 * 8;
    for (int m = 0; m < full8; m += 8) partial = _mm256_add_ps(partial, _mm256_loadu_ps(row + m));
    float lane[8];
    _mm256_storeu_ps(lane, partial);
    for (int m = full8; m < K; m++) lane[m & 7] += row[m];
    const float sum = ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
    const Vec inv_sum = V::set1(1.0f / sum);
    for (int m = 0; m < K; m += W) {
        const int n = K - m < W ? K - m : W;
        V::store_head(row + m, n, V::mul(V::load_head(row + m, n), inv_sum));
    }
}

}  // namespace
}  // namespace sparsifiner
