#pragma once
// Dense multi-head attention core on oneDNN: S = (Q K^T) d^-0.5, P = softmax(S), O = P V, for all
// images and heads at once as batched matmuls. Q, K and V are read in place from the qkv output
// ([B, N, 3, H, d], SPEC 1) through strided memory descriptors and O is written straight into
// [B, N, H, d] = [B*N, D], the layout proj reads: no transposes, no copies. Images go through in
// chunks whose scores fit in L2.
#include <map>
#include <memory>
#include <unordered_map>
#include <utility>

#include <oneapi/dnnl/dnnl.hpp>

namespace sparsifiner {

// Seconds in each of the three primitives, added to by forward() when given.
struct DenseAttentionSeconds {
    double qk = 0, softmax = 0, pv = 0;
};

class DenseAttention {
public:
    DenseAttention(int num_heads, int head_dim) : H_(num_heads), d_(head_dim) {}

    // qkv [B, N, 3D]; scores is scratch of B*H*N*N floats (holds P afterwards); out [B, N, D].
    // seconds, when given, has the time of each primitive added (nullptr: no clock reads).
    void forward(const float* qkv, float* scores, float* out, int B, int N, DenseAttentionSeconds* seconds = nullptr);

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
    std::map<std::pair<int, int>, std::unique_ptr<Plan>> plans_;
};

}  // namespace sparsifiner
