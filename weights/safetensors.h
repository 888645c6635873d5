#pragma once
// The safetensors container (SPEC section 7): 8-byte little-endian header length, a JSON header
// naming every tensor's dtype, shape and byte range, then the raw bytes. This file knows the
// format only; what a DeiT needs from it is weights/deit_weights.h.
//
// Files come from strangers: every size read is bounded and every offset checked before use.
// Any problem throws WeightFileError whose message is one line: "<file>: <tensor>: <problem>".
#include <cstddef>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace sparsifiner {

struct WeightFileError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

enum class DType { F32, F16, BF16 };
const char* dtype_name(DType dtype);
size_t dtype_size(DType dtype);

struct TensorView {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    const uint8_t* data;   // points into the mapped file, nbytes long
    size_t nbytes;
    int64_t numel() const;
};

// A parsed, validated safetensors image. Owns the memory mapping when opened from a file.
class SafetensorsFile {
public:
    // Maps the file read-only and validates it. `path` is also the label used in errors.
    static SafetensorsFile open(const std::string& path);
    // Validates a buffer that the caller keeps alive (used by the fuzzer and the tests).
    static SafetensorsFile parse(const uint8_t* bytes, size_t size, const std::string& label);

    SafetensorsFile(SafetensorsFile&& other) noexcept;
    SafetensorsFile& operator=(SafetensorsFile&& other) noexcept;
    SafetensorsFile(const SafetensorsFile&) = delete;
    SafetensorsFile& operator=(const SafetensorsFile&) = delete;
    ~SafetensorsFile();

    const std::string& label() const { return label_; }
    const std::map<std::string, std::string>& metadata() const { return metadata_; }
    const std::vector<TensorView>& tensors() const { return tensors_; }  // sorted by name
    const TensorView* find(const std::string& name) const;  // nullptr when absent
    // Bytes of the data area that no tensor claims. Not an error (some writers pad), but worth
    // showing: a file with holes can carry content that no tool looks at.
    size_t unindexed_bytes() const { return unindexed_bytes_; }

private:
    SafetensorsFile() = default;
    std::string label_;
    std::map<std::string, std::string> metadata_;
    std::vector<TensorView> tensors_;
    void* mapping_ = nullptr;
    size_t mapping_size_ = 0;
    size_t unindexed_bytes_ = 0;
};

// Converts any stored dtype to f32 (F16 and BF16 widened exactly).
void tensor_to_f32(const TensorView& tensor, float* out);

}  // namespace sparsifiner
