#pragma once
// The predictor's thresholded basis [rows = K, cols = N] stored compactly (SPEC 2, step 5), and the
// per-query product approx = sum_e weight[e] * basis[row_e] over it (step 6).
//
// Why: the product reads eight basis rows of N floats per query row; stored dense that is 128 KB
// per row at N = 4097, streamed from L3, and it was the predictor's largest cost. Three formats,
// picked by size and density when the basis is built:
// - bitmap: per row one bit per column plus the non-zero values packed in column order. At the
//   ~1/3 density of trained and of seeded bases this is ~5.4 KB per row instead of 16 KB, and
//   AVX2 expands eight columns at a time (a permutation from a 256-entry table). Measured on a
//   loaded Zen 3: about as fast as the dense rows it replaces (the expansion costs what the
//   smaller reads save), with a basis 3x smaller (3.7 MB instead of 11 MB per block at N = 4097).
// - list: per row (column, value) pairs in column order, scattered one by one. Smaller than the
//   bitmap below 1/16 density (8 bytes per non-zero vs N/8 bytes of bits + 4 per non-zero).
// - dense: the rows with their zeros, for any basis up to 64 MB (N up to ~8000 tokens). Read as
//   four-vector column steps (compact_basis_kernel.h) it streams at close to the cache's
//   bandwidth, which the bitmap's expansion does not reach: per query row, Zen 4, AVX-512 / AVX2,
//   N = 577 0.21 / 0.18-0.24 us against 0.56 / 0.37-0.50; N = 4097 (11 MB, from L3) 1.8-2.0 /
//   1.7 us against 2.5 / 2.5-2.6 (kernel_bench, "coef x basis"). Above 64 MB the bitmap keeps
//   the memory at a third.
#include <cstdint>
#include <functional>
#include <vector>

#include "core/platform/aligned_allocator.h"

namespace sparsifiner {

// Largest basis stored dense (see the formats above).
constexpr long long kDenseBasisMaxBytes = 64LL * 1024 * 1024;

class CompactBasis {
public:
    enum class Format { bitmap, list, dense };

    CompactBasis() = default;
    // fill_row(m, row) writes basis row m (cols floats, zeros included) into row. Entries equal to
    // 0 are not stored. The format is dense up to 2 MB; above, the list when fewer than 1/16 of
    // the entries are non-zero, else dense up to kDenseBasisMaxBytes and the bitmap beyond.
    CompactBasis(int rows, int cols, const std::function<void(int, float*)>& fill_row);
    // The same with the format forced (for tests).
    CompactBasis(int rows, int cols, const std::function<void(int, float*)>& fill_row, Format format);
    // Rebuilds in place as the first constructor does, reusing this object's buffers (the
    // predictor re-slices its basis on every call after token pruning; no new pages then).
    void assign(int rows, int cols, const std::function<void(int, float*)>& fill_row);
    // Rebuilds in place as the columns positions[0..count) of full (ascending, in range): the
    // basis of the tokens still alive after pruning. A dense full basis is sliced in one gather
    // pass per row (the generic rebuild filled, counted and copied every row three times).
    void assign_columns(const CompactBasis& full, const int32_t* positions, int count);

    int rows() const { return rows_; }
    int cols() const { return cols_; }
    Format format() const { return format_; }
    long long nnz() const { return nnz_; }
    long long row_nnz(int m) const { return row_nnz_[m]; }
    // Floats combine() reads for row m: the whole row when stored dense (not its padding), its
    // non-zeros otherwise.
    long long row_reads(int m) const { return format_ == Format::dense ? cols_ : row_nnz_[m]; }
    // Bytes of the stored basis (values, bits, columns).
    long long stored_bytes() const {
        return static_cast<long long>(values_.size() * sizeof(float) + bits_.size() + columns_.size() * sizeof(int32_t));
    }
    // Floats the caller's approx buffer must hold: cols rounded up to a multiple of 8 (the bitmap
    // kernels write whole groups of eight).
    int padded_cols() const { return (cols_ + 7) / 8 * 8; }
    // row [cols] = basis row m, zeros included.
    void expand_row(int m, float* row) const;

    // approx [padded_cols()] = sum over e < count, in order of e, of weight[e] * basis row
    // rows_used[e]. combine uses AVX2 when the CPU has it; combine_portable never does.
    void combine(const int32_t* rows_used, const float* weight, int count, float* approx) const;
    void combine_portable(const int32_t* rows_used, const float* weight, int count, float* approx) const;

private:
    void build(int rows, int cols, const std::function<void(int, float*)>& fill_row, Format format);

    int rows_ = 0, cols_ = 0, groups_ = 0;  // groups_: bitmap bytes per row, ceil(cols / 8)
    Format format_ = Format::bitmap;
    std::vector<long long> row_start_;      // [rows + 1]: row m's values are [row_start[m], row_start[m+1])
    // Non-zeros in column order (dense: every entry, each row starting at a multiple of 16 floats,
    // zero padded) + 8 floats of padding; 64-byte aligned, so dense rows start on a cache line.
    std::vector<float, CacheLineAllocator<float>> values_;
    std::vector<uint8_t> bits_;             // bitmap: [rows, groups_], bit l of byte g = column 8 g + l
    std::vector<int32_t> columns_;          // list: the column of each value
    std::vector<long long> row_nnz_;        // [rows]: non-zeros of each row (all formats)
    long long nnz_ = 0;
    std::vector<float> scratch_row_;        // [cols]: one row handed to fill_row while building
};

// Whether CompactBasis::combine uses its AVX2 kernel on this CPU.
bool compact_basis_avx2_supported();

// The dense format's vector kernels (compact_basis_kernel.h), for CompactBasis::combine.
void compact_basis_combine_dense_avx2(int cols, int padded_cols, const long long* row_start, const float* values,
                                      const int32_t* rows_used, const float* weight, int count, float* approx);
void compact_basis_combine_dense_avx512(int cols, int padded_cols, const long long* row_start, const float* values,
                                        const int32_t* rows_used, const float* weight, int count, float* approx);

}  // namespace sparsifiner
