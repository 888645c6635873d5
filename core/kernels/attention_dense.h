#pragma once
// Dense multi-head attention core, S = (Q K^T) d^-0.5, P = softmax(S), O = P V, on one of two
// implementations:
//   onednn  three oneDNN primitives (batched matmuls and a softmax) over chunks of images whose
//           B H N N scores fit in L2. Q, K and V are read in place from the qkv output
//           ([B, N, 3, H, d], SPEC 1) through strided memory descriptors and O is written straight
//           into [B, N, H, d] = [B*N, D]: no transposes, no copies.
//   fused   core/kernels/fused_attention.h: query tiles x key tiles with an online softmax, no
//           N x N buffer.
// dense_core_for() picks one per call from measurements (attention_bench --dense-ab), so callers
// that do not need the score matrix just call forward().
#include <map>
#include <tuple>
#include <memory>
#include <unordered_map>
#include <utility>

#include <oneapi/dnnl/dnnl.hpp>

#include "core/kernels/dtype.h"

namespace sparsifiner {

enum class DenseCore { onednn, fused };
const char* dense_core_name(DenseCore core);  // "onednn", "fused"

// Which core runs N tokens of head dimension d on this CPU: fused where it was measured faster
// (AVX-512 with d % 16 == 0: every N), oneDNN elsewhere (on AVX2 the fused kernel measured up to
// 5% slower; without AVX2 only its portable loops would run).
DenseCore dense_core_for(int N, int d);
// Test and benchmark hook: force a core for every later dense_core_for() call ("auto" restores the
// measured choice). The environment variable SPARSIFINER_DENSE_CORE=onednn|fused|auto sets the
// initial value; anything else there is ignored. Not thread-safe: call before running models.
enum class DenseCoreChoice { automatic, onednn, fused };
void dense_core_force(DenseCoreChoice choice);

// Seconds in each of the three oneDNN primitives, or in the fused kernel, added to by forward().
struct DenseAttentionSeconds {
    double qk = 0, softmax = 0, pv = 0;
    double fused = 0;
};

class DenseAttention {
public:
    DenseAttention(int num_heads, int head_dim) : H_(num_heads), d_(head_dim) {}
    // bf16: the fused core runs its products in bf16 (core/kernels/fused_attention_bf16.h) where
    // the CPU has AVX512_BF16, except in calls that want cls_probs (token pruning), which stay f32.
    void set_dtype(Dtype dtype) { dtype_ = dtype; }

    // qkv [B, N, 3D] -> out [B, N, D] on dense_core_for(N, d); returns the core that ran.
    // scores: B*H*N*N floats of scratch, needed only when that core is onednn (may be null
    // otherwise). cls_probs [B, H, N], when given: row 0's probabilities (token pruning).
    // seconds, when given, has the time of each part added (nullptr: no clock reads).
    DenseCore forward(const float* qkv, float* scores, float* out, float* cls_probs, int B, int N,
                      DenseAttentionSeconds* seconds = nullptr);
    // Always the oneDNN core: scores [B, H, N, N] holds P afterwards.
    void forward_onednn(const float* qkv, float* scores, float* out, int B, int N,
                        DenseAttentionSeconds* seconds = nullptr);
    // oneDNN plans made so far: one per (B, N, thread count), since a primitive keeps the thread
    // split of its creation (tests).
    int plan_count() const { return static_cast<int>(plans_.size()); }

private:
    struct Plan {
        dnnl::matmul qk, pv;
        dnnl::softmax_forward softmax;
        dnnl::memory q, k, v, s, o;
        std::unordered_map<int, dnnl::memory> qk_args, softmax_args, pv_args;
    };
    Plan& plan_for(int B, int N);
    // forward() on a chunk of images small enough for their scores to stay in cache.
    void forward_chunk(const float* qkv, float* scores, float* out, int B, int N, DenseAttentionSeconds* seconds);

    int H_, d_;
    Dtype dtype_ = Dtype::f32;
    std::map<std::tuple<int, int, int>, std::unique_ptr<Plan>> plans_;  // by (B, N, OpenMP threads)
};

}  // namespace sparsifiner
