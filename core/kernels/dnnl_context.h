#pragma once
// The one oneDNN CPU engine and stream of the process. oneDNN is built on OpenMP here, so the
// thread count it uses is OpenMP's (see core/threading.h).
#include <oneapi/dnnl/dnnl.hpp>

namespace sparsifiner {

dnnl::engine& dnnl_cpu_engine();
dnnl::stream& dnnl_cpu_stream();

// oneDNN's name for the instruction set its kernels use on this CPU ("avx2", "avx512_core", ...).
const char* dnnl_isa_name();
// Whether oneDNN runs native bf16 kernels here (AVX512_BF16 or AMX): false on CPUs without them,
// and also where DNNL_MAX_CPU_ISA / ONEDNN_MAX_CPU_ISA caps oneDNN below them, in which case a bf16
// primitive cannot be created at all.
bool dnnl_bf16_kernels();

}  // namespace sparsifiner
