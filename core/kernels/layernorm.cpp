#include "core/kernels/layernorm.h"

#include <cmath>

namespace sparsifiner {

// The sums use eight independent accumulators so that the compiler vectorises them without
// -ffast-math; target_clones builds AVX-512, AVX2 and baseline copies and the loader picks the
// one this CPU supports, so the portable build is still fast.
__attribute__((target_clones("avx512f", "avx2", "default")))
static void layernorm_row(float* out, const float* in, const float* weight, const float* bias, int D) {
    float partial[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int i = 0;
    for (; i + 8 <= D; i += 8)
        for (int l = 0; l < 8; l++) partial[l] += in[i + l];
    float sum = 0;
    for (; i < D; i++) sum += in[i];
    for (int l = 0; l < 8; l++) sum += partial[l];
    const float mean = sum / D;

    // Two passes (mean first, then centred squares) to avoid cancellation in the variance.
    float sq[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    i = 0;
    for (; i + 8 <= D; i += 8)
        for (int l = 0; l < 8; l++) {
            float c = in[i + l] - mean;
            sq[l] += c * c;
        }
    float var = 0;
    for (; i < D; i++) var += (in[i] - mean) * (in[i] - mean);
    for (int l = 0; l < 8; l++) var += sq[l];
    const float rstd = 1.0f / std::sqrt(var / D + kLayerNormEps);

    for (int j = 0; j < D; j++) out[j] = (in[j] - mean) * rstd * weight[j] + bias[j];
}

void layernorm_forward(float* out, const float* in, const float* weight, const float* bias,
                       int rows, int D, int in_stride, int out_stride) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++)
        layernorm_row(out + (long)r * out_stride, in + (long)r * in_stride, weight, bias, D);
}

}  // namespace sparsifiner
