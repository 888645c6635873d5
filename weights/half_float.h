#pragma once
// Widening of the 16-bit float formats a safetensors file may store. Both widen to f32 exactly:
// every F16 and every BF16 value (subnormals, infinities, NaN payloads included) is an f32 value.
#include <cstdint>

namespace sparsifiner {

float f16_bits_to_f32(uint16_t bits);   // IEEE 754 binary16: 1 sign, 5 exponent, 10 mantissa bits
float bf16_bits_to_f32(uint16_t bits);  // bfloat16: the top half of an f32

}  // namespace sparsifiner
