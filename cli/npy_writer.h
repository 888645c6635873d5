#pragma once
// Writes .npy files (NumPy format version 1.0) that numpy.load reads.
#include <cstdint>
#include <string>
#include <vector>

namespace sparsifiner {

// Written atomically (cli/output_file.h). Throws OutputError "<path>: cannot write: <reason>".
void npy_write_f32(const std::string& path, const float* data, const std::vector<int64_t>& shape);
void npy_write_i32(const std::string& path, const int32_t* data, const std::vector<int64_t>& shape);

}  // namespace sparsifiner
