#pragma once
// The one oneDNN CPU engine and stream of the process. oneDNN is built on OpenMP here, so the
// thread count it uses is OpenMP's (see core/threading.h).
#include <oneapi/dnnl/dnnl.hpp>

namespace sparsifiner {

dnnl::engine& dnnl_cpu_engine();
dnnl::stream& dnnl_cpu_stream();

// oneDNN's name for the instruction set its kernels use on this CPU ("avx2", "avx512_core", ...).
const char* dnnl_isa_name();

}  // namespace sparsifiner
