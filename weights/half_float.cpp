#include "weights/half_float.h"

#include <cstring>

namespace sparsifiner {

static float f32_from_bits(uint32_t bits) {
    float value;
    std::memcpy(&value, &bits, sizeof value);
    return value;
}

float f16_bits_to_f32(uint16_t bits) {
    uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
    uint32_t exponent = (bits >> 10) & 0x1fu;
    uint32_t mantissa = bits & 0x3ffu;
    if (exponent == 0x1f) {
        // Inf, or NaN with its payload kept in the top mantissa bits.
        return f32_from_bits(sign | 0x7f800000u | (mantissa << 13));
    }
    if (exponent == 0) {
        if (mantissa == 0) return f32_from_bits(sign);  // signed zero
        // Subnormal: mantissa * 2^-24. Shift the mantissa up until its leading one reaches the
        // implicit-bit position; each shift lowers the exponent by one. f32 represents it normally.
        int32_t e = -14;
        while ((mantissa & 0x400u) == 0) {
            mantissa <<= 1;
            e -= 1;
        }
        mantissa &= 0x3ffu;
        return f32_from_bits(sign | (static_cast<uint32_t>(e + 127) << 23) | (mantissa << 13));
    }
    return f32_from_bits(sign | ((exponent - 15 + 127) << 23) | (mantissa << 13));
}

float bf16_bits_to_f32(uint16_t bits) {
    return f32_from_bits(static_cast<uint32_t>(bits) << 16);
}

}  // namespace sparsifiner
