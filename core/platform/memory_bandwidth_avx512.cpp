// The AVX-512 instantiation of the bandwidth probe's sum (memory_bandwidth_kernel.h).
#include <cstddef>

#include "core/platform/memory_bandwidth.h"
// From here on, code may use AVX-512: the probe calls it only when the CPU has it.
#include "core/kernels/simd/simd_target_avx512.h"
#include "core/kernels/simd/simd_avx512.h"
#include "core/platform/memory_bandwidth_kernel.h"

namespace sparsifiner {

double read_sum_avx512(const float* p, size_t n, int sweeps) { return read_sum_vector<SimdAvx512>(p, n, sweeps); }

}  // namespace sparsifiner
