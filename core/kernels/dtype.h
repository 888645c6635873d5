#pragma once
// The dtype the matrix products of a forward pass run in. f32 everywhere, or bf16: every Linear
// reads bf16 activations and bf16 weights and accumulates in f32 into an f32 destination;
// the fused dense attention core runs q K^T and P V on bf16 dot products; LayerNorm, softmax,
// GELU, the residual stream and the sparse attention core stay f32 (docs/usage.md).
#include <optional>
#include <string>

namespace sparsifiner {

enum class Dtype { f32, bf16 };

const char* dtype_name(Dtype dtype);                        // "f32", "bf16"
std::optional<Dtype> dtype_parse(const std::string& name);  // the inverse; nullopt when unknown

}  // namespace sparsifiner
