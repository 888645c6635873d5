#pragma once
// f32 -> bf16 with round-to-nearest-even, the activations' conversion before a bf16 Linear.
// With avx512_bf16 one instruction converts 16 floats (VCVTNEPS2BF16, which also flushes
// denormals to zero); elsewhere a portable loop that rounds the same way (the test reference).
#include <cstddef>
#include <cstdint>

namespace sparsifiner {

// n floats, any n; spread over the OpenMP threads when large.
void bf16_from_f32(uint16_t* dst, const float* src, size_t n);
// The portable rounding, one value (NaN stays NaN).
uint16_t bf16_round(float value);
float bf16_to_f32(uint16_t value);

}  // namespace sparsifiner
