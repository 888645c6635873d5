#pragma once
#include <string>

namespace sparsifiner {

std::string cpu_model_name();     // "AMD EPYC 7B13" or "unknown"
bool cpu_has_avx2_fma();
bool cpu_has_avx512();            // AVX-512 F, BW, VL, DQ: what our AVX-512 kernels use
std::string cpu_isa_summary();    // "avx512", "avx2" or "baseline": the best path we can run

}  // namespace sparsifiner
