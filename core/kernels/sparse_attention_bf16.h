#pragma once
// Sparse attention with bf16 products (--dtype bf16): the f32 sparse core's steps
// (core/kernels/sparse_attention.h: the kept keys of every non-cls row, the cls row dense), with
// q k and p v on AVX512_BF16 dot products (vdpbf16ps: two bf16 products added into each f32 lane).
// Every head's K and V rows are first rounded to bf16, once per call, so the gathers read
// 128 bytes per kept key instead of 256: the f32 core is held by those gathers (it runs at the
// bandwidth of the cache level holding K and V), not by its arithmetic. q (times d^-0.5), K, V
// and the probabilities are rounded to bf16; scores, the softmax, its sum, the cls row's
// probabilities and the output accumulate in f32. Same layouts and arguments as the f32 core.
#include <cstdint>

namespace sparsifiner {

// The CPU has AVX512_BF16 and the head dimension is 64 (DeiT's; other d run the f32 core).
bool sparse_attention_bf16_fits(int d);
// Call only when sparse_attention_bf16_fits(d).
void sparse_attention_forward_bf16(const float* qkv, const int32_t* key_index, float* out, float* cls_probs,
                                   int B, int N, int H, int d, int k, long long index_stride = -1);

}  // namespace sparsifiner
