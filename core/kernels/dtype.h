#pragma once
// The dtype the matrix products of a forward pass run in. f32 everywhere, or bf16: every Linear
// reads bf16 activations and bf16 weights and accumulates in f32 into an f32 destination;
// both attention cores run q K^T and P V on bf16 dot products (the sparse one gathers K and V in
// bf16); LayerNorm, softmax, GELU, the residual stream and the mask predictor stay f32
// (docs/usage.md).
#include <optional>
#include <string>

namespace sparsifiner {

enum class Dtype { f32, bf16 };

const char* dtype_name(Dtype dtype);                        // "f32", "bf16"
std::optional<Dtype> dtype_parse(const std::string& name);  // the inverse; nullopt when unknown
// Empty when a forward pass in `dtype` can run here, else why not, as one sentence: bf16 needs the
// CPU's native bf16 (cpu_bf16_native, which SPARSIFINER_NO_BF16 turns off) and oneDNN's bf16
// kernels (dnnl_bf16_kernels, which DNNL_MAX_CPU_ISA can cap away). bf16 is never emulated.
std::string dtype_unavailable(Dtype dtype);

}  // namespace sparsifiner
