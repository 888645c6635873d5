#include "weights/error_text.h"

#include <cstdio>

namespace sparsifiner {

std::string printable_name(const std::string& name, size_t max_bytes) {
    std::string out;
    for (size_t i = 0; i < name.size() && i < max_bytes; i++) {
        unsigned char c = static_cast<unsigned char>(name[i]);
        if (c < 0x20 || c == 0x7f) {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
            out += escaped;
        } else {
            out += static_cast<char>(c);
        }
    }
    if (name.size() > max_bytes) out += "...";
    return out;
}

std::string shape_text(const std::vector<int64_t>& shape) {
    std::string out = "[";
    for (size_t i = 0; i < shape.size(); i++) {
        if (i > 0) out += ", ";
        out += std::to_string(shape[i]);
    }
    return out + "]";
}

void throw_weight_error(const std::string& label, const std::string& where, const std::string& problem) {
    throw WeightFileError(printable_name(label, 4096) + ": " + printable_name(where) + ": " + problem);
}

}  // namespace sparsifiner
