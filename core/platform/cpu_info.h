#pragma once
#include <string>

namespace sparsifiner {

std::string cpu_model_name();     // "AMD EPYC 7B13" or "unknown"
bool cpu_has_avx2_fma();
bool cpu_has_avx512();            // AVX-512 F, BW, VL, DQ: what our AVX-512 kernels use
std::string cpu_isa_summary();
// The bf16 instructions, as the CPU reports them (cpuid), whatever the environment says.
bool cpu_has_avx512_bf16();       // VCVTNEPS2BF16, VDPBF16PS (needs AVX-512 too)
bool cpu_has_amx_bf16();          // AMX tiles with bf16 products
// Whether a bf16 run is allowed: native bf16 (avx512_bf16 or amx_bf16), never emulation.
// SPARSIFINER_NO_BF16=1 makes it say no, so the refusal can be tested on any CPU.
bool cpu_bf16_native();
// What a refusal names: "no avx512_bf16 or amx_bf16", plus " (SPARSIFINER_NO_BF16 is set)"
// when that is why.
std::string cpu_bf16_missing();    // "avx512", "avx2" or "baseline": the best path we can run

}  // namespace sparsifiner
