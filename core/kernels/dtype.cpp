#include "core/kernels/dtype.h"

#include "core/kernels/dnnl_context.h"
#include "core/platform/cpu_info.h"

namespace sparsifiner {

const char* dtype_name(Dtype dtype) { return dtype == Dtype::bf16 ? "bf16" : "f32"; }

std::optional<Dtype> dtype_parse(const std::string& name) {
    if (name == "f32") return Dtype::f32;
    if (name == "bf16") return Dtype::bf16;
    return std::nullopt;
}

std::string dtype_unavailable(Dtype dtype) {
    if (dtype != Dtype::bf16) return "";
    if (!cpu_bf16_native())
        return "--dtype bf16 needs native bf16 and this CPU has " + cpu_bf16_missing() +
               "; bf16 is never emulated: use --dtype f32";
    if (!dnnl_bf16_kernels())
        return std::string("--dtype bf16 needs oneDNN's bf16 kernels and oneDNN is capped at ") + dnnl_isa_name() +
               " here (DNNL_MAX_CPU_ISA or ONEDNN_MAX_CPU_ISA); bf16 is never emulated: use --dtype f32";
    return "";
}

}  // namespace sparsifiner
