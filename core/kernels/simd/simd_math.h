#pragma once
// Functions built from the vector vocabulary alone, written once for every ISA. Include inside a
// target region, after simd_avx2.h or simd_avx512.h.
#include <cmath>

namespace sparsifiner {
namespace {

// e^r for |r| <= ln2 / 2 by its degree-6 Taylor polynomial in Horner form (truncation error
// below 1.3e-7 relative).
template <class V>
typename V::Vec exp_taylor6(typename V::Vec r) {
    typename V::Vec p = V::set1(1.0f / 720);
    p = V::fma(p, r, V::set1(1.0f / 120));
    p = V::fma(p, r, V::set1(1.0f / 24));
    p = V::fma(p, r, V::set1(1.0f / 6));
    p = V::fma(p, r, V::set1(0.5f));
    p = V::fma(p, r, V::set1(1.0f));
    return V::fma(p, r, V::set1(1.0f));
}

// e^x for x <= 0 (softmax arguments are max-subtracted). x = n ln2 + r with |r| <= ln2/2, ln2
// split in two so that r is exact to float rounding; e^r by its degree-6 Taylor polynomial
// (truncation error below 1.3e-7 relative), 2^n by building the exponent bits. Below -87.3 the
// result would be denormal: it is flushed to 0, as are NaN inputs.
template <class V>
typename V::Vec exp_nonpositive(typename V::Vec x) {
    const typename V::Vec input = x;
    x = V::min(V::max(x, V::set1(-87.3f)), V::set1(88.3f));
    const typename V::Vec n = V::round_nearest(V::mul(x, V::set1(1.44269504088896341f)));
    typename V::Vec r = V::fnma(n, V::set1(0.693359375f), x);
    r = V::fnma(n, V::set1(-2.12194440e-4f), r);
    return V::zero_below(input, -87.3f, V::mul(exp_taylor6<V>(r), V::pow2(n)));
}

// scores[t] = e^(scores[t] - max_score) in place for t < count, returning their sum. The row is
// padded up to a whole vector with -inf (e^-inf = 0): callers' rows have room to a multiple of 16.
template <class V>
float exp_and_sum(float* scores, int count, float max_score) {
    const int padded = (count + V::width - 1) / V::width * V::width;
    for (int t = count; t < padded; t++) scores[t] = -INFINITY;
    const typename V::Vec m = V::set1(max_score);
    typename V::Vec sum = V::zero();
    for (int t = 0; t < padded; t += V::width) {
        const typename V::Vec e = exp_nonpositive<V>(V::sub(V::load(scores + t), m));
        V::store(scores + t, e);
        sum = V::add(sum, e);
    }
    return V::hsum(sum);
}

// The largest of values[0, count) (the row is padded with -inf up to a whole vector, as above).
template <class V>
float row_max_of(float* values, int count) {
    const int padded = (count + V::width - 1) / V::width * V::width;
    for (int t = count; t < padded; t++) values[t] = -INFINITY;
    typename V::Vec m = V::set1(-INFINITY);
    for (int t = 0; t < padded; t += V::width) m = V::max(m, V::load(values + t));
    return V::hmax(m);
}

}  // namespace
}  // namespace sparsifiner
