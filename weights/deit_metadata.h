#pragma once
// Strict readers for the string values of a safetensors `__metadata__` (weights/METADATA.md).
// A present but malformed value is an error, never a silent default: "12 " or "0x10" or "1e3" for
// an integer is rejected, and every number is range-checked before it sizes anything.
#include <string>
#include <vector>

#include "weights/safetensors.h"

namespace sparsifiner {

class MetadataReader {
public:
    explicit MetadataReader(const SafetensorsFile& file) : file_(file) {}

    bool has(const std::string& key) const;
    const std::string& text(const std::string& key) const;  // the raw value; key must be present
    int integer(const std::string& key, int lo, int hi) const;
    // A finite number in [lo, hi]; with lo_open, lo itself is excluded (e.g. a rate in (0, 1]).
    float real(const std::string& key, float lo, float hi, bool lo_open) const;
    bool boolean(const std::string& key) const;  // "true" or "false"
    // "3,6,9" -> {3, 6, 9}, strictly increasing, each in [lo, hi]; "" -> {}.
    std::vector<int> integer_list(const std::string& key, int lo, int hi) const;
    // "0.5" or "0.485,0.456,0.406": finite numbers, each in [lo, hi] (lo excluded with lo_open).
    std::vector<float> real_list(const std::string& key, float lo, float hi, bool lo_open) const;
    // A JSON array of strings, e.g. class_names.
    std::vector<std::string> string_list(const std::string& key) const;

    [[noreturn]] void fail(const std::string& key, const std::string& problem) const;

private:
    float real_item(const std::string& key, const std::string& raw, float lo, float hi, bool lo_open) const;

    const SafetensorsFile& file_;
};

// Parses a whole string as a decimal integer in [lo, hi] (digits only, at most 9 of them).
bool parse_bounded_int(const std::string& text, int lo, int hi, int* out);

}  // namespace sparsifiner
