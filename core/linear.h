#pragma once
// A Linear layer (y = x W^T + b) on oneDNN's matmul. The weights are reordered once, at
// construction, into the layout oneDNN picks for this shape (format_tag::any); the epilogue
// (adding into the destination for a residual) is fused as a post-op; GELU runs right after. One primitive
// per row count is created the first time that row count is seen and reused afterwards, with
// its memory objects and argument map, so a forward pass allocates nothing.
#include <map>
#include <string>
#include <memory>
#include <unordered_map>

#include <oneapi/dnnl/dnnl.hpp>

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
           int typical_rows);

    // src [rows, in] (row stride in), dst [rows, out] (row stride out).
    void forward(const float* src, float* dst, int rows);

    int in() const { return in_; }
    int out() const { return out_; }
    // The oneDNN implementation chosen for a row count, for reports ("gemm:jit", "brg:avx512_core").
    const std::string& implementation(int rows);

private:
    struct Plan {
        dnnl::matmul primitive;
        dnnl::memory src, dst;
        std::unordered_map<int, dnnl::memory> args;
        std::string impl;
    };
    Plan& plan_for(int rows);
    dnnl::primitive_attr attributes() const;

    int in_ = 0, out_ = 0;
    LinearEpilogue epilogue_ = LinearEpilogue::bias;
    dnnl::memory::desc weights_desc_;
    dnnl::memory weights_, bias_;
    std::map<int, std::unique_ptr<Plan>> plans_;
};

}  // namespace sparsifiner
