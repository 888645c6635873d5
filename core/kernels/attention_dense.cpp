#include "core/kernels/attention_dense.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "core/kernels/dnnl_context.h"
#include "core/kernels/fused_attention.h"
#include "core/kernels/fused_attention_bf16.h"
#include "core/platform/timing.h"
#include "core/platform/threading.h"

namespace sparsifiner {

namespace {

DenseCoreChoice choice_from_env() {
    const char* value = std::getenv("SPARSIFINER_DENSE_CORE");
    if (value && std::strcmp(value, "onednn") == 0) return DenseCoreChoice::onednn;
    if (value && std::strcmp(value, "fused") == 0) return DenseCoreChoice::fused;
    return DenseCoreChoice::automatic;
}

DenseCoreChoice& forced_choice() {
    static DenseCoreChoice choice = choice_from_env();
    return choice;
}

}  // namespace

const char* dense_core_name(DenseCore core) { return core == DenseCore::fused ? "fused" : "onednn"; }

void dense_core_force(DenseCoreChoice choice) { forced_choice() = choice; }

DenseCore dense_core_for(int N, int d) {
    switch (forced_choice()) {
        case DenseCoreChoice::onednn: return DenseCore::onednn;
        case DenseCoreChoice::fused: return DenseCore::fused;
        case DenseCoreChoice::automatic: break;
    }
    // attention_bench --dense-ab, DeiT-S geometry (H 6, d 64), 1 thread, on a Zen 4 EPYC: the
    // AVX-512 kernel took 0.75-0.93x oneDNN's time at every N from 50 to 4097; the AVX2 kernel
    // 0.97x at N = 197 but 1.05x at 577 and 1025.
    (void)N;
    return fused_attention_isa_best(d) == Isa::avx512 ? DenseCore::fused : DenseCore::onednn;
}

using dims = dnnl::memory::dims;
using dt = dnnl::memory::data_type;

DenseAttention::Plan& DenseAttention::plan_for(int B, int N) {
    // The thread count is part of the key: oneDNN fixes a primitive's thread split at creation.
    const auto key = std::make_tuple(B, N, threads_get());
    auto found = plans_.find(key);
    if (found != plans_.end()) return *found->second;

    auto& engine = dnnl_cpu_engine();
    const long H = H_, d = d_, D = H_ * d_, n = N;
    // Strides of the qkv output seen as [B, H, N, d]: token rows are 3D apart, heads d apart,
    // and q, k, v start at column 0, D and 2D of each row.
    dnnl::memory::desc q_desc(dims{B, H, n, d}, dt::f32, dims{n * 3 * D, d, 3 * D, 1});
    dnnl::memory::desc kt_desc(dims{B, H, d, n}, dt::f32, dims{n * 3 * D, d, 1, 3 * D});
    dnnl::memory::desc v_desc = q_desc;
    dnnl::memory::desc s_desc(dims{B, H, n, n}, dt::f32, dims{H * n * n, n * n, n, 1});
    dnnl::memory::desc o_desc(dims{B, H, n, d}, dt::f32, dims{n * D, d, D, 1});

    dnnl::primitive_attr scaled;
    scaled.set_output_scales(0, {1.0f / std::sqrt(static_cast<float>(d_))});
    dnnl::matmul::primitive_desc qk_pd(dnnl::matmul::desc(q_desc, kt_desc, s_desc), scaled, engine);
    dnnl::matmul::primitive_desc pv_pd(dnnl::matmul::desc(s_desc, v_desc, o_desc), engine);
    dnnl::softmax_forward::primitive_desc softmax_pd(
        dnnl::softmax_forward::desc(dnnl::prop_kind::forward_inference, s_desc, 3), engine);

    auto plan = std::make_unique<Plan>();
    plan->qk = dnnl::matmul(qk_pd);
    plan->pv = dnnl::matmul(pv_pd);
    plan->softmax = dnnl::softmax_forward(softmax_pd);
    plan->q = dnnl::memory(q_desc, engine, nullptr);
    plan->k = dnnl::memory(kt_desc, engine, nullptr);
    plan->v = dnnl::memory(v_desc, engine, nullptr);
    plan->s = dnnl::memory(s_desc, engine, nullptr);
    plan->o = dnnl::memory(o_desc, engine, nullptr);
    plan->qk_args = {{DNNL_ARG_SRC, plan->q}, {DNNL_ARG_WEIGHTS, plan->k}, {DNNL_ARG_DST, plan->s}};
    plan->softmax_args = {{DNNL_ARG_SRC, plan->s}, {DNNL_ARG_DST, plan->s}};
    plan->pv_args = {{DNNL_ARG_SRC, plan->s}, {DNNL_ARG_WEIGHTS, plan->v}, {DNNL_ARG_DST, plan->o}};
    return *plans_.emplace(key, std::move(plan)).first->second;
}

DenseCore DenseAttention::forward(const float* qkv, float* scores, float* out, float* cls_probs, int B, int N,
                                  DenseAttentionSeconds* seconds) {
    const DenseCore core = dense_core_for(N, d_);
    if (core == DenseCore::fused) {
        const double start = seconds ? seconds_now() : 0;
        if (dtype_ == Dtype::bf16 && cls_probs == nullptr && fused_attention_bf16_fits(d_))
            fused_attention_forward_bf16(qkv, out, B, N, H_, d_);
        else
            fused_attention_forward(qkv, out, cls_probs, B, N, H_, d_);
        if (seconds) seconds->fused += seconds_now() - start;
        return core;
    }
    forward_onednn(qkv, scores, out, B, N, seconds);
    if (cls_probs)
        for (long bh = 0; bh < (long)B * H_; bh++)
            std::copy(scores + bh * N * N, scores + bh * N * N + N, cls_probs + bh * N);
    return core;
}

// Images per chunk: the scores of one chunk (H x N x N floats per image) should stay within about
// 1 MiB, an L2 on these CPUs, so that softmax and p v read them from cache while q k has just
// written them. All images at once streamed the whole [B, H, N, N] matrix through memory three
// times: DeiT-S at batch 8 took ~1.3x per image what batch 1 took.
static int images_per_chunk(int B, int H, int N) {
    const size_t per_image = (size_t)H * N * N * sizeof(float);
    const size_t budget = size_t(1) << 20;
    return (int)std::max<size_t>(1, std::min<size_t>((size_t)B, budget / per_image));
}

void DenseAttention::forward_onednn(const float* qkv, float* scores, float* out, int B, int N,
                                    DenseAttentionSeconds* seconds) {
    const int D = H_ * d_;
    const int chunk = images_per_chunk(B, H_, N);
    for (int first = 0; first < B; first += chunk) {
        const int images = std::min(chunk, B - first);
        forward_chunk(qkv + (size_t)first * N * 3 * D, scores + (size_t)first * H_ * N * N,
                      out + (size_t)first * N * D, images, N, seconds);
    }
}

void DenseAttention::forward_chunk(const float* qkv, float* scores, float* out, int B, int N,
                                   DenseAttentionSeconds* seconds) {
    Plan& plan = plan_for(B, N);
    const int D = H_ * d_;
    plan.q.set_data_handle(const_cast<float*>(qkv));
    plan.k.set_data_handle(const_cast<float*>(qkv + D));
    plan.v.set_data_handle(const_cast<float*>(qkv + 2 * D));
    plan.s.set_data_handle(scores);
    plan.o.set_data_handle(out);
    auto& stream = dnnl_cpu_stream();
    if (!seconds) {
        plan.qk.execute(stream, plan.qk_args);
        plan.softmax.execute(stream, plan.softmax_args);
        plan.pv.execute(stream, plan.pv_args);
        return;
    }
    // oneDNN's CPU execute() returns when the primitive is done, so wall clock between the
    // calls is each primitive's time.
    const double start = seconds_now();
    plan.qk.execute(stream, plan.qk_args);
    const double qk_done = seconds_now();
    plan.softmax.execute(stream, plan.softmax_args);
    const double softmax_done = seconds_now();
    plan.pv.execute(stream, plan.pv_args);
    seconds->qk += qk_done - start;
    seconds->softmax += softmax_done - qk_done;
    seconds->pv += seconds_now() - softmax_done;
}

}  // namespace sparsifiner
