#include "core/kernels/matmul_peak.h"

#include <oneapi/dnnl/dnnl.hpp>

#include <random>
#include <vector>

#include "core/kernels/dnnl_context.h"
#include "core/platform/timing.h"

namespace sparsifiner {

MatmulPeak matmul_peak_measure(int size, int runs) {
    using tag = dnnl::memory::format_tag;
    using dt = dnnl::memory::data_type;
    auto& engine = dnnl_cpu_engine();
    auto& stream = dnnl_cpu_stream();
    dnnl::memory::desc square({size, size}, dt::f32, tag::ab);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(square, square, square), engine);
    dnnl::matmul matmul(pd);
    dnnl::memory a(square, engine), b(square, engine), c(square, engine);
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> uniform(-1.f, 1.f);
    for (dnnl::memory* m : {&a, &b, &c}) {
        float* p = static_cast<float*>(m->get_data_handle());
        for (size_t i = 0; i < (size_t)size * size; i++) p[i] = uniform(rng);
    }
    std::unordered_map<int, dnnl::memory> args = {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}};
    matmul.execute(stream, args);  // warm-up
    std::vector<double> gflops;
    for (int r = 0; r < runs; r++) {
        double start = seconds_now();
        matmul.execute(stream, args);
        gflops.push_back(2.0 * size * (double)size * size / (seconds_now() - start) / 1e9);
    }
    MatmulPeak peak;
    peak.size = size;
    peak.median_gflops = quantile(gflops, 0.5);
    peak.best_gflops = quantile(gflops, 1.0);
    return peak;
}

}  // namespace sparsifiner
