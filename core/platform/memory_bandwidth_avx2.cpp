// The AVX2 instantiation of the bandwidth probe's sum (memory_bandwidth_kernel.h).
#include <cstddef>

#include "core/platform/memory_bandwidth.h"
// From here on, code may use AVX2: the probe calls it only when the CPU has it.
#include "core/kernels/simd/simd_target_avx2.h"
#include "core/kernels/simd/simd_avx2.h"
#include "core/platform/memory_bandwidth_kernel.h"

namespace sparsifiner {

double read_sum_avx2(const float* p, size_t n, int sweeps) { return read_sum_vector<SimdAvx2>(p, n, sweeps); }

}  // namespace sparsifiner
