#include "core/kernels/dtype.h"

namespace sparsifiner {

const char* dtype_name(Dtype dtype) { return dtype == Dtype::bf16 ? "bf16" : "f32"; }

std::optional<Dtype> dtype_parse(const std::string& name) {
    if (name == "f32") return Dtype::f32;
    if (name == "bf16") return Dtype::bf16;
    return std::nullopt;
}

}  // namespace sparsifiner
