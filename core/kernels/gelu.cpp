#include "core/kernels/gelu.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace sparsifiner {

constexpr float kInvSqrt2 = 0.70710678118654752f;

static void gelu_portable(float* x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * kInvSqrt2));
}

static void gelu_run(Isa isa, float* x, size_t n) {
    switch (isa) {
        case Isa::avx512: gelu_avx512(x, n); return;
        case Isa::avx2: gelu_avx2(x, n); return;
        case Isa::portable: gelu_portable(x, n); return;
    }
}

void gelu_inplace_isa(Isa isa, float* x, size_t n) {
    if (!isa_supported(isa)) throw std::invalid_argument("gelu: this CPU cannot run the requested path");
    gelu_run(isa, x, n);
}

void gelu_inplace(float* x, size_t n) {
    const Isa best = isa_best();
    // Chunks of 4096 floats keep the work of each thread contiguous and cache sized.
    const long chunks = (long)((n + 4095) / 4096);
#pragma omp parallel for schedule(static)
    for (long c = 0; c < chunks; c++) {
        size_t begin = (size_t)c * 4096, len = std::min<size_t>(4096, n - begin);
        gelu_run(best, x + begin, len);
    }
}

}  // namespace sparsifiner
