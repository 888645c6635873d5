#include "core/platform/isa.h"

#include <cstdio>
#include <cstdlib>

#include "core/platform/cpu_info.h"

namespace sparsifiner {

const char* isa_name(Isa isa) {
    switch (isa) {
        case Isa::avx512: return "avx512";
        case Isa::avx2: return "avx2";
        default: return "portable";
    }
}

std::optional<Isa> isa_parse(const std::string& name) {
    for (Isa isa : {Isa::portable, Isa::avx2, Isa::avx512})
        if (name == isa_name(isa)) return isa;
    return std::nullopt;
}

bool isa_supported(Isa isa) {
    switch (isa) {
        case Isa::avx512: return cpu_has_avx512();
        case Isa::avx2: return cpu_has_avx2_fma();
        default: return true;
    }
}

Isa isa_best_up_to(Isa cap) {
    for (Isa isa : {Isa::avx512, Isa::avx2})
        if (isa <= cap && isa_supported(isa)) return isa;
    return Isa::portable;
}

namespace {

Isa isa_from_environment() {
    const char* value = std::getenv("SPARSIFINER_ISA");
    if (value == nullptr || *value == '\0') return isa_best_up_to(Isa::avx512);
    const std::optional<Isa> cap = isa_parse(value);
    if (!cap) {
        // Not an error worth stopping a run for: the variable is a testing aid. Say it once.
        std::fprintf(stderr, "warning: SPARSIFINER_ISA=%s is not portable, avx2 or avx512; ignored\n", value);
        return isa_best_up_to(Isa::avx512);
    }
    return isa_best_up_to(*cap);
}

}  // namespace

Isa isa_best() {
    static const Isa best = isa_from_environment();
    return best;
}

}  // namespace sparsifiner
