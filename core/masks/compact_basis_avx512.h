#pragma once
// AVX-512 kernels of CompactBasis::combine (core/compact_basis.h): sixteen columns per step, the
// bitmap's rows expanded with vexpandps. Per column the fused multiply-adds run in the order of
// e, four rows per pass then one, exactly as the AVX2 kernels do, so both give the same values.
// Call only when cpu_has_avx512().
#include <cstdint>

namespace sparsifiner {

// approx [8 * ceil(groups / 2) ... padded to 8 * groups] for a bitmap of `groups` bytes per row.
void compact_basis_combine_bitmap_avx512(const uint8_t* bits, int groups, const long long* row_start,
                                         const float* values, const int32_t* rows_used, const float* weight,
                                         int count, float* approx);
// approx [cols rounded up to 8] for dense rows of cols floats.
void compact_basis_combine_dense_avx512(int cols, const long long* row_start, const float* values,
                                        const int32_t* rows_used, const float* weight, int count, float* approx);

}  // namespace sparsifiner
