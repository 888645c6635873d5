#include "core/kernels/bf16_convert.h"

#include <algorithm>
#include <cstring>

#include <immintrin.h>

#include "core/platform/cpu_info.h"

namespace sparsifiner {

uint16_t bf16_round(float value) {
    uint32_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((bits >> 16) | 0x40u);  // quiet NaN
    bits += 0x7fffu + ((bits >> 16) & 1u);  // ties to even
    return (uint16_t)(bits >> 16);
}

float bf16_to_f32(uint16_t value) {
    const uint32_t bits = (uint32_t)value << 16;
    float result;
    std::memcpy(&result, &bits, sizeof result);
    return result;
}

static void convert_portable(uint16_t* dst, const float* src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = bf16_round(src[i]);
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
static void convert_avx512_bf16(uint16_t* dst, const float* src, size_t n) {
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m512bh pair = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + i + 16), _mm512_loadu_ps(src + i));
        _mm512_storeu_si512(dst + i, (__m512i)pair);
    }
    if (i < n) {
        const __mmask16 low = (__mmask16)((1u << std::min<size_t>(16, n - i)) - 1u);
        const __mmask16 high = n - i > 16 ? (__mmask16)((1u << (n - i - 16)) - 1u) : 0;
        const __m512bh pair = _mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(high, src + i + 16),
                                                  _mm512_maskz_loadu_ps(low, src + i));
        _mm512_mask_storeu_epi16(dst + i, ((__mmask32)high << 16) | low, (__m512i)pair);
    }
}

void bf16_from_f32(uint16_t* dst, const float* src, size_t n) {
    // The raw instruction, not isa_best(): SPARSIFINER_ISA caps our f32 kernels, and a bf16 run
    // exists only on a CPU that has it (the CLI refuses otherwise).
    static const bool native = cpu_has_avx512_bf16();
    constexpr size_t chunk = 8192;
    const long chunks = (long)((n + chunk - 1) / chunk);
    if (chunks <= 1) {
        // Short rows (the bf16 attention core converts one token row of one head at a time) must
        // not open a parallel region: even an if(false) one costs more than the conversion.
        if (native) convert_avx512_bf16(dst, src, n);
        else convert_portable(dst, src, n);
        return;
    }
#pragma omp parallel for schedule(static)
    for (long c = 0; c < chunks; c++) {
        const size_t begin = (size_t)c * chunk, len = std::min(chunk, n - begin);
        if (native) convert_avx512_bf16(dst + begin, src + begin, len);
        else convert_portable(dst + begin, src + begin, len);
    }
}

}  // namespace sparsifiner
