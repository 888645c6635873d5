#pragma once
// The machine's practical f32 matmul throughput, measured now with oneDNN on a large square
// product: the yardstick the benchmark divides our end-to-end GFLOP/s by.

namespace sparsifiner {

struct MatmulPeak {
    int size = 0;             // M = K = N
    double median_gflops = 0;
    double best_gflops = 0;
};

// Times `runs` products after one warm-up, with the current thread count.
MatmulPeak matmul_peak_measure(int size = 1536, int runs = 10);

}  // namespace sparsifiner
