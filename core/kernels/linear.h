#pragma once
// A Linear layer (y = x W^T + b) on oneDNN, run as a 1x1 convolution over the token axis: with
// tokens as "pixels" and features as channels (channels-last, so the activations stay plain
// [rows, features] row-major), oneDNN's jit 1x1 convolution reads weights pre-packed at load
// time in the blocked layout it picks (format_tag::any). On Zen 3 this measured about 20%
// faster end to end than the matmul primitive, whose gemm packs the weights again on every call.
// The epilogue (adding into the destination for a residual) is fused as a post-op; GELU runs as
// a vectorised pass right after (core/gelu.h). One primitive per row count is created the first
// time that row count is seen and reused, with its memory objects and argument map, so a forward
// pass allocates nothing after its first run.
// Each row count gets the weight layout oneDNN prefers for it: forcing the layout picked for one
// row count onto another made oneDNN fall back to its reference convolution (DeiT-S at batch 8:
// ~600x slower). The weights are packed once per distinct layout (usually one or two), and an
// implementation whose name says `ref` is skipped whenever oneDNN offers any other.
// In bf16 (core/kernels/dtype.h) the weights are rounded to bf16 once, in the packing reorder;
// each forward rounds the f32 activations into a bf16 copy first, and the convolution reads both
// in bf16, accumulates in f32 and writes (or adds into) the f32 destination. Bias, residual add
// and GELU stay f32.
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "core/kernels/dtype.h"

namespace sparsifiner {

enum class LinearEpilogue {
    bias,           // dst = x W^T + b
    bias_gelu,      // dst = GELU_erf(x W^T + b)
    bias_residual,  // dst += x W^T + b   (the residual stream is dst)
};

class Linear {
public:
    Linear() = default;
    // weight is [out, in] (PyTorch's layout), bias [out]. typical_rows picks the weight layout.
    Linear(const float* weight, const float* bias, int in, int out, LinearEpilogue epilogue,
           int typical_rows, Dtype dtype = Dtype::f32);

    // src [rows, in] (row stride in), dst [rows, out] (row stride out).
    void forward(const float* src, float* dst, int rows);

    int in() const { return in_; }
    int out() const { return out_; }
    Dtype dtype() const { return dtype_; }
    // The oneDNN implementation chosen for a row count, for reports ("jit_1x1:avx2", ...).
    // Creates the plan for that row count when it does not exist yet.
    const std::string& implementation(int rows);
    // True when oneDNN had nothing but a reference (unoptimised) implementation for that row count.
    bool is_reference(int rows) { return implementation(rows).find("ref") != std::string::npos; }
    // The row counts planned so far at the current thread count, each with its implementation,
    // in ascending row order.
    std::vector<std::pair<int, std::string>> planned() const;
    // How many packed copies of the weights exist (one per distinct layout the row counts asked for).
    int packed_layouts() const { return (int)packed_.size(); }

private:
    struct Plan {
        dnnl::convolution_forward primitive;
        dnnl::memory src, dst;
        std::unordered_map<int, dnnl::memory> args;
        std::string impl;
    };
    Plan& plan_for(int rows);
    dnnl::convolution_forward::primitive_desc primitive_desc(int rows, const dnnl::memory::desc& weights) const;
    const dnnl::memory& packed_weights(const dnnl::memory::desc& layout);

    int in_ = 0, out_ = 0;
    LinearEpilogue epilogue_ = LinearEpilogue::bias;
    Dtype dtype_ = Dtype::f32;
    // packed_[0] is in the layout of the typical row count; other layouts are reordered from it.
    std::vector<dnnl::memory> packed_;
    dnnl::memory bias_;
    std::map<std::pair<int, int>, std::unique_ptr<Plan>> plans_;  // by (rows, OpenMP threads)
};

}  // namespace sparsifiner
