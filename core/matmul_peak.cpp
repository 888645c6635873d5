#include "core/matmul_peak.h"

#include <random>
#include <vector>

#include "core/linear.h"
#include "core/timing.h"

namespace sparsifiner {

MatmulPeak matmul_peak_measure(int size, int runs) {
    const size_t n = (size_t)size * size;
    std::vector<float> a(n), w(n), bias(size, 0.f), c(n);
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> uniform(-1.f, 1.f);
    for (size_t i = 0; i < n; i++) {
        a[i] = uniform(rng);
        w[i] = uniform(rng);
    }
    // The same oneDNN matmul wrapper the model uses, so the comparison is like with like.
    Linear linear(w.data(), bias.data(), size, size, LinearEpilogue::bias, size);
    linear.forward(a.data(), c.data(), size);
    std::vector<double> gflops;
    for (int r = 0; r < runs; r++) {
        double start = seconds_now();
        linear.forward(a.data(), c.data(), size);
        gflops.push_back(2.0 * size * (double)n / (seconds_now() - start) / 1e9);
    }
    MatmulPeak peak;
    peak.size = size;
    peak.median_gflops = quantile(gflops, 0.5);
    peak.best_gflops = quantile(gflops, 1.0);
    return peak;
}

}  // namespace sparsifiner
