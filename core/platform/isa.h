#pragma once
// The instruction-set families our hand-vectorised kernels are written for, and the one place
// that decides which of them this process runs. Every kernel family (sparse and fused attention,
// top-k, the predictor's products, GELU) dispatches on this one enum.
//
// SPARSIFINER_ISA=portable|avx2|avx512 caps the choice (for tests and A/B runs): the best path the
// CPU has at or below the named one. Asking for more than the CPU has never selects it.
#include <optional>
#include <string>

namespace sparsifiner {

enum class Isa { portable, avx2, avx512 };

const char* isa_name(Isa isa);                         // "portable", "avx2", "avx512"
std::optional<Isa> isa_parse(const std::string& name);  // the inverse; nullopt when unknown
bool isa_supported(Isa isa);                           // can this CPU run it
Isa isa_best();                                        // the best supported, capped by SPARSIFINER_ISA
// The best supported path at or below `cap` (isa_best() without the environment).
Isa isa_best_up_to(Isa cap);

}  // namespace sparsifiner
