#pragma once
// Fused dense attention with bf16 products (--dtype bf16): the f32 fused kernel's online softmax
// (core/kernels/fused_attention.h), with q K^T and P V on AVX512_BF16 dot products
// (vdpbf16ps: two bf16 products added into each f32 lane). q (times d^-0.5), K, V and the
// probabilities P are rounded to bf16; scores, the softmax, its running max and sum and the output
// accumulate in f32. Same layouts as the f32 kernel: qkv [B, N, 3, H, d] in, out [B*N, D].
// K and V are first packed once per call with the two values of each dot-product pair side by
// side: K as [B, H, d/2, N_pad] pairs along d, V as [B, H, N_pad/2, d] pairs along the keys.
namespace sparsifiner {

// The CPU has AVX512_BF16 and the kernel has a head dimension d (a multiple of 16).
bool fused_attention_bf16_fits(int d);
// Call only when fused_attention_bf16_fits(d). No cls_probs: token pruning's blocks run f32.
void fused_attention_forward_bf16(const float* qkv, float* out, int B, int N, int H, int d);

}  // namespace sparsifiner
