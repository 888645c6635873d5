#include "core/masks/compact_basis.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>
#include <string>

#include <immintrin.h>

#include "core/platform/isa.h"

namespace sparsifiner {

namespace {

// The vector kernels follow the one choice of path (core/platform/isa.h).
const bool use_avx2 = isa_best() >= Isa::avx2;
const bool use_avx512 = isa_best() >= Isa::avx512;

// For each bitmap byte: output lane l takes packed value number (set bits of the byte below bit
// l), so that a permutation of the eight values loaded at the group's start puts each value in
// its column's lane. Lanes whose bit is set also get the sign bit: vpermps reads only the low
// three bits of an index, and the same vector then serves as the blend mask that zeroes the
// absent lanes (one table load per group instead of rebuilding the mask from the byte).
std::array<std::array<int32_t, 8>, 256> make_expand_table() {
    std::array<std::array<int32_t, 8>, 256> table{};
    for (int byte = 0; byte < 256; byte++) {
        int packed = 0;
        for (int lane = 0; lane < 8; lane++) {
            const bool present = (byte >> lane) & 1;
            table[byte][lane] = present ? static_cast<int32_t>(0x80000000u | static_cast<uint32_t>(packed)) : 0;
            packed += present;
        }
    }
    return table;
}
alignas(32) const std::array<std::array<int32_t, 8>, 256> expand_table = make_expand_table();

// One basis row's eight columns of group g, expanded from its packed values (zeros elsewhere);
// advances `packed` past the group's values. Reads up to eight floats from `packed`: values_ is
// padded at its end.
__attribute__((target("avx2,fma"))) inline __m256 expand_group(const uint8_t* row_bits, int g, const float*& packed) {
    const int byte = row_bits[g];
    const __m256i order = _mm256_load_si256(reinterpret_cast<const __m256i*>(expand_table[byte].data()));
    const __m256 v = _mm256_permutevar8x32_ps(_mm256_loadu_ps(packed), order);
    packed += __builtin_popcount(static_cast<unsigned>(byte));
    return _mm256_blendv_ps(_mm256_setzero_ps(), v, _mm256_castsi256_ps(order));
}

// The bitmap row's first `groups` groups of eight columns into row, eight at a time; advances packed.
__attribute__((target("avx2,fma"))) void expand_row_avx2(const uint8_t* row_bits, int groups, const float*& packed,
                                                        float* row) {
    for (int g = 0; g < groups; g++) _mm256_storeu_ps(row + 8 * g, expand_group(row_bits, g, packed));
}

// Four basis rows per pass over approx, so each group's partial sum stays in a register across
// them (one load and store of approx per group and four rows, not per row); the FMAs run in the
// order of e, as the portable kernel's adds do.
__attribute__((target("avx2,fma"))) void combine_bitmap_avx2(const uint8_t* bits, int groups,
                                                             const long long* row_start, const float* values,
                                                             const int32_t* rows_used, const float* weight,
                                                             int count, float* approx) {
    for (int g = 0; g < groups; g++) _mm256_storeu_ps(approx + 8 * g, _mm256_setzero_ps());
    int e = 0;
    for (; e + 4 <= count; e += 4) {
        const uint8_t* bits0 = bits + static_cast<long long>(rows_used[e]) * groups;
        const uint8_t* bits1 = bits + static_cast<long long>(rows_used[e + 1]) * groups;
        const uint8_t* bits2 = bits + static_cast<long long>(rows_used[e + 2]) * groups;
        const uint8_t* bits3 = bits + static_cast<long long>(rows_used[e + 3]) * groups;
        const float* packed0 = values + row_start[rows_used[e]];
        const float* packed1 = values + row_start[rows_used[e + 1]];
        const float* packed2 = values + row_start[rows_used[e + 2]];
        const float* packed3 = values + row_start[rows_used[e + 3]];
        const __m256 w0 = _mm256_set1_ps(weight[e]), w1 = _mm256_set1_ps(weight[e + 1]);
        const __m256 w2 = _mm256_set1_ps(weight[e + 2]), w3 = _mm256_set1_ps(weight[e + 3]);
        for (int g = 0; g < groups; g++) {
            __m256 sum = _mm256_loadu_ps(approx + 8 * g);
            sum = _mm256_fmadd_ps(w0, expand_group(bits0, g, packed0), sum);
            sum = _mm256_fmadd_ps(w1, expand_group(bits1, g, packed1), sum);
            sum = _mm256_fmadd_ps(w2, expand_group(bits2, g, packed2), sum);
            sum = _mm256_fmadd_ps(w3, expand_group(bits3, g, packed3), sum);
            _mm256_storeu_ps(approx + 8 * g, sum);
        }
    }
    for (; e < count; e++) {
        const uint8_t* row_bits = bits + static_cast<long long>(rows_used[e]) * groups;
        const float* packed = values + row_start[rows_used[e]];
        const __m256 w = _mm256_set1_ps(weight[e]);
        for (int g = 0; g < groups; g++)
            _mm256_storeu_ps(approx + 8 * g,
                             _mm256_fmadd_ps(w, expand_group(row_bits, g, packed), _mm256_loadu_ps(approx + 8 * g)));
    }
}

}  // namespace

bool compact_basis_avx2_supported() { return use_avx2; }

CompactBasis::CompactBasis(int rows, int cols, const std::function<void(int, float*)>& fill_row) {
    assign(rows, cols, fill_row);
}

CompactBasis::CompactBasis(int rows, int cols, const std::function<void(int, float*)>& fill_row, Format format) {
    build(rows, cols, fill_row, format);
}

void CompactBasis::assign(int rows, int cols, const std::function<void(int, float*)>& fill_row) {
    if (rows < 0 || cols < 0) throw std::invalid_argument("compact basis: negative size");
    // Every row is filled once into a cached copy (the format needs the non-zero count before the
    // build, and filling twice doubled the re-slicing after token pruning; issue 15). One cache
    // per thread, reused by every basis that thread builds, not one per basis.
    const size_t entries = static_cast<size_t>(rows) * cols;
    thread_local std::vector<float> cache;
    if (cache.size() < entries) cache.resize(entries);
    long long nnz = 0;
    for (int m = 0; m < rows; m++) {
        float* row = cache.data() + static_cast<size_t>(m) * cols;
        fill_row(m, row);
        for (int n = 0; n < cols; n++) nnz += row[n] != 0.f;
    }
    // Dense below 2 MB whatever the density (it stays in L2); the list for very sparse bases; dense
    // again up to kDenseBasisMaxBytes; the bitmap above (compact_basis.h).
    const long long bytes = static_cast<long long>(entries) * static_cast<long long>(sizeof(float));
    const bool sparse = nnz * 16 < static_cast<long long>(entries);
    const Format format = bytes <= 2 * 1024 * 1024 ? Format::dense
                          : sparse                  ? Format::list
                          : bytes <= kDenseBasisMaxBytes ? Format::dense
                                                         : Format::bitmap;
    build(rows, cols,
          [&](int m, float* row) {
              std::copy(cache.data() + static_cast<size_t>(m) * cols, cache.data() + static_cast<size_t>(m + 1) * cols,
                        row);
          },
          format);
}

namespace {
// Floats between the starts of two dense rows: whole cache lines (values_ is 64-byte aligned).
long long dense_stride(int cols) { return (static_cast<long long>(cols) + 15) / 16 * 16; }
}  // namespace

void CompactBasis::assign_columns(const CompactBasis& full, const int32_t* positions, int count) {
    if (count < 0) throw std::invalid_argument("compact basis: negative column count");
    for (int i = 0; i < count; i++)
        if (positions[i] < 0 || positions[i] >= full.cols_)
            throw std::invalid_argument("compact basis: column " + std::to_string(positions[i]) + " out of range");
    if (full.format_ != Format::dense) {
        thread_local std::vector<float> full_row;
        full_row.resize(full.cols_);
        assign(full.rows_, count, [&](int m, float* row) {
            full.expand_row(m, full_row.data());
            for (int i = 0; i < count; i++) row[i] = full_row[positions[i]];
        });
        return;
    }
    rows_ = full.rows_;
    cols_ = count;
    format_ = Format::dense;
    groups_ = (cols_ + 7) / 8;
    bits_.clear();
    columns_.clear();
    row_start_.resize(static_cast<size_t>(rows_) + 1);
    row_nnz_.resize(rows_);
    const long long stride = dense_stride(cols_);
    values_.resize(static_cast<size_t>(rows_ * stride) + 8);
    nnz_ = 0;
    for (int m = 0; m < rows_; m++) {
        const float* src = full.values_.data() + full.row_start_[m];
        float* dst = values_.data() + m * stride;
        long long nonzero = 0;
        for (int i = 0; i < count; i++) {
            dst[i] = src[positions[i]];
            nonzero += dst[i] != 0.f;
        }
        std::fill(dst + count, dst + stride, 0.f);
        row_start_[m] = m * stride;
        row_nnz_[m] = nonzero;
        nnz_ += nonzero;
    }
    row_start_[rows_] = rows_ * stride;
    std::fill(values_.end() - 8, values_.end(), 0.f);
}

void CompactBasis::build(int rows, int cols, const std::function<void(int, float*)>& fill_row, Format format) {
    if (rows < 0 || cols < 0) throw std::invalid_argument("compact basis: negative size");
    rows_ = rows;
    cols_ = cols;
    format_ = format;
    groups_ = (cols_ + 7) / 8;
    // clear() and assign() keep the vectors' capacity: a rebuild of the same size allocates nothing.
    row_start_.assign(1, 0);
    values_.clear();
    bits_.assign(format == Format::bitmap ? static_cast<size_t>(rows_) * groups_ : 0, 0);
    columns_.clear();
    row_nnz_.clear();
    scratch_row_.resize(cols_);
    float* row = scratch_row_.data();
    for (int m = 0; m < rows_; m++) {
        fill_row(m, row);
        if (format == Format::dense) {
            values_.insert(values_.end(), row, row + cols_);
            values_.resize(static_cast<size_t>((m + 1) * dense_stride(cols_)), 0.f);
            row_nnz_.push_back(cols_ - static_cast<long long>(std::count(row, row + cols_, 0.f)));
            row_start_.push_back(static_cast<long long>(values_.size()));
            continue;
        }
        for (int n = 0; n < cols_; n++) {
            if (row[n] == 0.f) continue;
            values_.push_back(row[n]);
            if (format == Format::bitmap)
                bits_[static_cast<size_t>(m) * groups_ + n / 8] |= static_cast<uint8_t>(1u << (n % 8));
            else
                columns_.push_back(n);
        }
        row_start_.push_back(static_cast<long long>(values_.size()));
        row_nnz_.push_back(row_start_[m + 1] - row_start_[m]);
    }
    nnz_ = 0;
    for (long long count : row_nnz_) nnz_ += count;
    values_.resize(values_.size() + 8, 0.f);
}

void CompactBasis::expand_row(int m, float* row) const {
    for (int n = 0; n < cols_; n++) row[n] = 0.f;
    const float* packed = values_.data() + row_start_[m];
    if (format_ == Format::dense) {
        std::copy(packed, packed + cols_, row);
        return;
    }
    if (format_ == Format::list) {
        for (long long p = row_start_[m]; p < row_start_[m + 1]; p++) row[columns_[p]] = values_[p];
        return;
    }
    const uint8_t* row_bits = bits_.data() + static_cast<size_t>(m) * groups_;
    int n = 0;
    if (use_avx2) {
        n = cols_ / 8 * 8;
        expand_row_avx2(row_bits, n / 8, packed, row);
    }
    for (; n < cols_; n++)
        if ((row_bits[n / 8] >> (n % 8)) & 1) row[n] = *packed++;
}

void CompactBasis::combine(const int32_t* rows_used, const float* weight, int count, float* approx) const {
    if (use_avx512 && format_ == Format::dense)
        compact_basis_combine_dense_avx512(cols_, padded_cols(), row_start_.data(), values_.data(), rows_used, weight,
                                           count, approx);
    else if (use_avx2 && format_ == Format::dense)
        compact_basis_combine_dense_avx2(cols_, padded_cols(), row_start_.data(), values_.data(), rows_used, weight,
                                         count, approx);
    else if (use_avx2 && format_ == Format::bitmap)
        combine_bitmap_avx2(bits_.data(), groups_, row_start_.data(), values_.data(), rows_used, weight, count,
                            approx);
    else
        combine_portable(rows_used, weight, count, approx);
}

// One fused multiply-add per entry, in the order of e, as the AVX2 kernels do: the same bits.
void CompactBasis::combine_portable(const int32_t* rows_used, const float* weight, int count, float* approx) const {
    const int padded = padded_cols();
    for (int n = 0; n < padded; n++) approx[n] = 0.f;
    for (int e = 0; e < count; e++) {
        const int m = rows_used[e];
        const float w = weight[e];
        if (format_ == Format::dense) {
            const float* row = values_.data() + row_start_[m];
            for (int n = 0; n < cols_; n++) approx[n] = std::fma(w, row[n], approx[n]);
            continue;
        }
        if (format_ == Format::list) {
            // A scatter: the columns of one row are distinct, so the adds are independent.
            for (long long p = row_start_[m]; p < row_start_[m + 1]; p++)
                approx[columns_[p]] = std::fma(w, values_[p], approx[columns_[p]]);
            continue;
        }
        const uint8_t* row_bits = bits_.data() + static_cast<size_t>(m) * groups_;
        const float* packed = values_.data() + row_start_[m];
        for (int g = 0; g < groups_; g++) {
            const unsigned byte = row_bits[g];
            for (int lane = 0; lane < 8; lane++)
                if ((byte >> lane) & 1) approx[8 * g + lane] = std::fma(w, *packed++, approx[8 * g + lane]);
        }
    }
}

}  // namespace sparsifiner
