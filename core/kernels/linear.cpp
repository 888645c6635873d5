#include "core/kernels/linear.h"

#include <algorithm>
#include <cstdio>

#include "core/kernels/bf16_convert.h"
#include "core/kernels/dnnl_context.h"
#include "core/kernels/gelu.h"
#include "core/platform/threading.h"

namespace sparsifiner {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

// What the product reads (activations and weights): accumulation and destination are always f32.
static dt operand_type(Dtype dtype) { return dtype == Dtype::bf16 ? dt::bf16 : dt::f32; }

// A 1-D convolution of width `rows`, batch 1, in_ -> out_ channels, kernel 1: exactly x W^T + b.
dnnl::convolution_forward::primitive_desc Linear::primitive_desc(int rows, const dnnl::memory::desc& weights) const {
    dnnl::memory::desc src({1, in_, rows}, operand_type(dtype_), tag::nwc);
    dnnl::memory::desc dst({1, out_, rows}, dt::f32, tag::nwc);
    dnnl::memory::desc bias({out_}, dt::f32, tag::a);
    // GELU is not a post-op: oneDNN's gelu_erf cost ~2.4 ns per element here (see core/gelu.h).
    dnnl::post_ops post_ops;
    if (epilogue_ == LinearEpilogue::bias_residual) post_ops.append_sum(1.f);
    dnnl::primitive_attr attr;
    attr.set_post_ops(post_ops);
    dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                         src, weights, bias, dst, {1}, {0}, {0});
    return dnnl::convolution_forward::primitive_desc(desc, attr, dnnl_cpu_engine());
}

// The first implementation oneDNN offers for this primitive that is not its reference code, or the
// reference one when nothing else exists (then the caller reports it: it never runs silently).
static dnnl::convolution_forward::primitive_desc skip_reference(dnnl::convolution_forward::primitive_desc pd) {
    auto first = pd;
    do {
        if (std::string(pd.impl_info_str()).find("ref") == std::string::npos) return pd;
    } while (pd.next_impl());
    return first;
}

Linear::Linear(const float* weight, const float* bias, int in, int out, LinearEpilogue epilogue,
               int typical_rows, Dtype dtype)
    : in_(in), out_(out), epilogue_(epilogue), dtype_(dtype) {
    auto& engine = dnnl_cpu_engine();
    // Let oneDNN pick the weight layout for the typical shape, and reorder into it once.
    auto pd = skip_reference(primitive_desc(typical_rows, dnnl::memory::desc({out, in, 1}, operand_type(dtype), tag::any)));
    packed_.emplace_back(pd.weights_desc(), engine);
    // The reorder also rounds to bf16 (to nearest even) when the packed layout is bf16.
    dnnl::memory user({{out, in, 1}, dt::f32, tag::oiw}, engine, const_cast<float*>(weight));
    dnnl::reorder(user, packed_[0]).execute(dnnl_cpu_stream(), user, packed_[0]);
    bias_ = dnnl::memory({{out}, dt::f32, tag::a}, engine);
    std::copy(bias, bias + out, static_cast<float*>(bias_.get_data_handle()));
    dnnl_cpu_stream().wait();
}

const dnnl::memory& Linear::packed_weights(const dnnl::memory::desc& layout) {
    for (const dnnl::memory& packed : packed_)
        if (packed.get_desc() == layout) return packed;
    // A layout not packed yet: reorder the first packed copy into it (the source weights may be
    // gone by now; a reorder between two packed layouts is exact).
    dnnl::memory fresh(layout, dnnl_cpu_engine());
    dnnl::reorder(packed_[0], fresh).execute(dnnl_cpu_stream(), packed_[0], fresh);
    dnnl_cpu_stream().wait();
    packed_.push_back(fresh);
    return packed_.back();
}

Linear::Plan& Linear::plan_for(int rows) {
    // oneDNN fixes a primitive's thread split when it creates it (from the OpenMP thread count
    // of that moment): a plan made at one thread count runs on one thread forever. So the thread
    // count is part of the key; `bench --threads 1,2` timed the two-thread runs on one thread.
    const auto key = std::make_pair(rows, threads_get());
    auto found = plans_.find(key);
    if (found != plans_.end()) return *found->second;
    // Each row count gets the layout (and the optimised implementation) oneDNN prefers for it.
    auto pd = skip_reference(primitive_desc(rows, dnnl::memory::desc({out_, in_, 1}, operand_type(dtype_), tag::any)));
    const dnnl::memory& weights = packed_weights(pd.weights_desc());
    auto& engine = dnnl_cpu_engine();
    auto plan = std::make_unique<Plan>();
    plan->primitive = dnnl::convolution_forward(pd);
    plan->src = dnnl::memory(pd.src_desc(), engine, nullptr);
    plan->dst = dnnl::memory(pd.dst_desc(), engine, nullptr);
    plan->args = {{DNNL_ARG_SRC, plan->src},
                  {DNNL_ARG_WEIGHTS, weights},
                  {DNNL_ARG_BIAS, bias_},
                  {DNNL_ARG_DST, plan->dst}};
    plan->impl = pd.impl_info_str();
    if (plan->impl.find("ref") != std::string::npos) {
        // oneDNN had nothing better for this shape: say so once per layer and row count.
        std::fprintf(stderr, "sparsifiner: warning: Linear %d -> %d at %d rows runs oneDNN's reference code (%s): "
                     "expect it to be slow\n", in_, out_, rows, plan->impl.c_str());
    }
    return *plans_.emplace(key, std::move(plan)).first->second;
}

// The bf16 copy of the activations: one buffer per calling thread, shared by every Linear (each
// uses it only inside its own forward), growing only, so that a pass allocates nothing once warm.
static uint16_t* bf16_scratch(size_t count) {
    thread_local std::vector<uint16_t> scratch;
    if (scratch.size() < count) scratch.resize(count);
    return scratch.data();
}

void Linear::forward(const float* src, float* dst, int rows) {
    Plan& plan = plan_for(rows);
    if (dtype_ == Dtype::bf16) {
        const size_t count = (size_t)rows * in_;
        uint16_t* rounded = bf16_scratch(count);
        bf16_from_f32(rounded, src, count);
        plan.src.set_data_handle(rounded);
    } else {
        plan.src.set_data_handle(const_cast<float*>(src));
    }
    plan.dst.set_data_handle(dst);
    plan.primitive.execute(dnnl_cpu_stream(), plan.args);
    if (epilogue_ == LinearEpilogue::bias_gelu) gelu_inplace(dst, (size_t)rows * out_);
}

const std::string& Linear::implementation(int rows) { return plan_for(rows).impl; }

std::vector<std::pair<int, std::string>> Linear::planned() const {
    std::vector<std::pair<int, std::string>> list;
    const int threads = threads_get();
    for (const auto& [key, plan] : plans_)
        if (key.second == threads) list.emplace_back(key.first, plan->impl);
    return list;
}

}  // namespace sparsifiner
