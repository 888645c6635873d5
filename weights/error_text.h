#pragma once
// Building the one-line error messages of the weight loaders: "<file>: <where>: <problem>".
// Names come from untrusted headers, so they are made printable and short before they reach
// a terminal or a log (a tensor called "a\nb" must not split the line).
#include <cstdint>
#include <string>
#include <vector>

#include "weights/safetensors.h"

namespace sparsifiner {

// Control bytes become \xNN; anything past max_bytes is cut and marked with "...".
std::string printable_name(const std::string& name, size_t max_bytes = 120);

// "[384, 3, 16, 16]"
std::string shape_text(const std::vector<int64_t>& shape);

[[noreturn]] void throw_weight_error(const std::string& label, const std::string& where,
                                     const std::string& problem);

}  // namespace sparsifiner
