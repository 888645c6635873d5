#pragma once
// The bandwidth probe's vector sum, written once over the vector vocabulary (core/kernels/simd)
// and instantiated in memory_bandwidth_avx2.cpp and _avx512.cpp. Include only inside a target region.
//
// Sums n floats `sweeps` times with eight independent accumulators, enough for the adders to keep
// two loads a cycle in flight, so that only the memory level limits the rate; the accumulators are
// reduced once at the end, not per sweep (that would halve an L1-sized probe). The partial sums
// stay exact for the ones the probe reads while each accumulator sees fewer than 2^24 of them
// (read_bandwidth_measure reads at most a few times 2^24 floats per repeat, over 8 or more accumulators).
#include <cstddef>

namespace sparsifiner {
namespace {

template <class V>
double read_sum_vector(const float* p, size_t n, int sweeps) {
    constexpr size_t W = V::width, kStep = 8 * W;
    typename V::Vec a[8];
    for (auto& v : a) v = V::zero();
    const size_t body = n / kStep * kStep;
    for (int s = 0; s < sweeps; s++)
        for (size_t i = 0; i < body; i += kStep)
            for (size_t j = 0; j < 8; j++) a[j] = V::add(a[j], V::load(p + i + W * j));
    double sum = 0;
    for (const auto& v : a) {
        float lanes[W];
        V::store(lanes, v);
        for (float lane : lanes) sum += lane;
    }
    for (int s = 0; s < sweeps; s++)
        for (size_t i = body; i < n; i++) sum += p[i];
    return sum;
}

}  // namespace
}  // namespace sparsifiner
