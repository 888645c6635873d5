#include "core/platform/cpu_info.h"

#include <cpuid.h>

#include <cstdlib>
#include <cstring>
#include <fstream>

namespace sparsifiner {

std::string cpu_model_name() {
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line;
    while (std::getline(cpuinfo, line)) {
        if (line.rfind("model name", 0) != 0) continue;
        auto colon = line.find(':');
        if (colon == std::string::npos) break;
        auto start = line.find_first_not_of(" \t", colon + 1);
        return start == std::string::npos ? "unknown" : line.substr(start);
    }
    return "unknown";
}

bool cpu_has_avx2_fma() {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

bool cpu_has_avx512() {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
}

std::string cpu_isa_summary() {
    if (cpu_has_avx512()) return "avx512";
    if (cpu_has_avx2_fma()) return "avx2";
    return "baseline";
}

bool cpu_has_avx512_bf16() {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!cpu_has_avx512() || !__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx)) return false;
    return (eax >> 5) & 1u;  // CPUID.(EAX=7,ECX=1):EAX[5] AVX512_BF16
}

bool cpu_has_amx_bf16() {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
    return (edx >> 22) & 1u;  // CPUID.(EAX=7,ECX=0):EDX[22] AMX-BF16
}

static bool bf16_disabled_by_environment() {
    const char* value = std::getenv("SPARSIFINER_NO_BF16");
    return value != nullptr && value[0] != '\0' && std::strcmp(value, "0") != 0;
}

bool cpu_bf16_native() {
    return !bf16_disabled_by_environment() && (cpu_has_avx512_bf16() || cpu_has_amx_bf16());
}

std::string cpu_bf16_missing() {
    return bf16_disabled_by_environment() ? "no avx512_bf16 or amx_bf16 (SPARSIFINER_NO_BF16 is set)"
                                          : "no avx512_bf16 or amx_bf16";
}

}  // namespace sparsifiner
