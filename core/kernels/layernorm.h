#pragma once
// LayerNorm over the last dimension (SPEC 1: eps 1e-6, biased variance, affine).

namespace sparsifiner {

constexpr float kLayerNormEps = 1e-6f;

// out[r, :] = (in[r, :] - mean) / sqrt(var + eps) * weight + bias, for r < rows; rows of width D
// read with stride in_stride and written with stride out_stride (floats).
void layernorm_forward(float* out, const float* in, const float* weight, const float* bias,
                       int rows, int D, int in_stride, int out_stride);

}  // namespace sparsifiner
