#include "core/linear.h"

#include <stdexcept>
#include <string>

#include "core/dnnl_context.h"
#include "core/gelu.h"

namespace sparsifiner {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

dnnl::primitive_attr Linear::attributes() const {
    // GELU is not a oneDNN post-op: its gelu_erf cost ~2.4 ns per element here; core/gelu.h
    // runs it as a separate vectorised pass instead (see forward()).
    dnnl::post_ops post_ops;
    if (epilogue_ == LinearEpilogue::bias_residual) post_ops.append_sum(1.f);
    dnnl::primitive_attr attr;
    attr.set_post_ops(post_ops);
    return attr;
}

Linear::Linear(const float* weight, const float* bias, int in, int out, LinearEpilogue epilogue,
               int typical_rows)
    : in_(in), out_(out), epilogue_(epilogue) {
    auto& engine = dnnl_cpu_engine();
    // PyTorch stores W as [out, in]; the matmul wants [in, out]: the same bytes read as "ba".
    dnnl::memory::desc user_weights({in, out}, dt::f32, tag::ba);
    dnnl::memory::desc any_weights({in, out}, dt::f32, tag::any);
    dnnl::memory::desc src({typical_rows, in}, dt::f32, tag::ab);
    dnnl::memory::desc dst({typical_rows, out}, dt::f32, tag::ab);
    dnnl::memory::desc bias_desc({1, out}, dt::f32, tag::ab);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, any_weights, bias_desc, dst), attributes(),
                                    engine);
    weights_desc_ = pd.weights_desc();
    weights_ = dnnl::memory(weights_desc_, engine);
    dnnl::memory user(user_weights, engine, const_cast<float*>(weight));
    dnnl::reorder(user, weights_).execute(dnnl_cpu_stream(), user, weights_);
    bias_ = dnnl::memory(bias_desc, engine);
    std::copy(bias, bias + out, static_cast<float*>(bias_.get_data_handle()));
    dnnl_cpu_stream().wait();
}

Linear::Plan& Linear::plan_for(int rows) {
    auto found = plans_.find(rows);
    if (found != plans_.end()) return *found->second;
    auto& engine = dnnl_cpu_engine();
    dnnl::memory::desc src({rows, in_}, dt::f32, tag::ab);
    dnnl::memory::desc dst({rows, out_}, dt::f32, tag::ab);
    // The weights keep the layout chosen at load time; oneDNN must accept it for this row count.
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, weights_desc_, bias_.get_desc(), dst),
                                    attributes(), engine);
    auto plan = std::make_unique<Plan>();
    plan->primitive = dnnl::matmul(pd);
    plan->src = dnnl::memory(src, engine, nullptr);
    plan->dst = dnnl::memory(dst, engine, nullptr);
    plan->args = {{DNNL_ARG_SRC, plan->src},
                  {DNNL_ARG_WEIGHTS, weights_},
                  {DNNL_ARG_BIAS, bias_},
                  {DNNL_ARG_DST, plan->dst}};
    plan->impl = pd.impl_info_str();
    return *plans_.emplace(rows, std::move(plan)).first->second;
}

void Linear::forward(const float* src, float* dst, int rows) {
    Plan& plan = plan_for(rows);
    plan.src.set_data_handle(const_cast<float*>(src));
    plan.dst.set_data_handle(dst);
    plan.primitive.execute(dnnl_cpu_stream(), plan.args);
    if (epilogue_ == LinearEpilogue::bias_gelu) gelu_inplace(dst, (size_t)rows * out_);
}

const std::string& Linear::implementation(int rows) { return plan_for(rows).impl; }

}  // namespace sparsifiner
