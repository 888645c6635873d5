#include "weights/deit_metadata.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "weights/error_text.h"

namespace sparsifiner {

bool parse_bounded_int(const std::string& text, int lo, int hi, int* out) {
    if (text.empty() || text.size() > 9) return false;
    long value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return false;
        value = value * 10 + (c - '0');
    }
    if (value < lo || value > hi) return false;
    *out = static_cast<int>(value);
    return true;
}

bool MetadataReader::has(const std::string& key) const {
    return file_.metadata().count(key) != 0;
}

const std::string& MetadataReader::text(const std::string& key) const {
    return file_.metadata().at(key);
}

void MetadataReader::fail(const std::string& key, const std::string& problem) const {
    throw_weight_error(file_.label(), "__metadata__." + key, problem);
}

int MetadataReader::integer(const std::string& key, int lo, int hi) const {
    int value = 0;
    if (!parse_bounded_int(text(key), lo, hi, &value)) {
        fail(key, "\"" + printable_name(text(key)) + "\" is not an integer in " + std::to_string(lo) + ".." +
                      std::to_string(hi));
    }
    return value;
}

float MetadataReader::real(const std::string& key, float lo, float hi, bool lo_open) const {
    return real_item(key, text(key), lo, hi, lo_open);
}

float MetadataReader::real_item(const std::string& key, const std::string& raw, float lo, float hi,
                                bool lo_open) const {
    char range[64];
    std::snprintf(range, sizeof range, "%s%g, %g]", lo_open ? "(" : "[", lo, hi);
    // strtod skips leading blanks and accepts "inf", "nan" and hex: all refused here.
    bool plain = !raw.empty() && raw.size() <= 32;
    for (char c : raw) {
        if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E')) plain = false;
    }
    char* end = nullptr;
    double value = plain ? std::strtod(raw.c_str(), &end) : 0.0;
    if (!plain || end != raw.c_str() + raw.size() || !std::isfinite(value) || value > hi || value < lo ||
        (lo_open && value == lo)) {
        fail(key, "\"" + printable_name(raw) + "\" is not a number in " + std::string(range));
    }
    return static_cast<float>(value);
}

std::vector<float> MetadataReader::real_list(const std::string& key, float lo, float hi, bool lo_open) const {
    const std::string& raw = text(key);
    std::vector<float> values;
    size_t start = 0;
    while (true) {
        size_t comma = raw.find(',', start);
        values.push_back(real_item(key, raw.substr(start, comma == std::string::npos ? std::string::npos : comma - start),
                                   lo, hi, lo_open));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return values;
}

bool MetadataReader::boolean(const std::string& key) const {
    const std::string& raw = text(key);
    if (raw == "true") return true;
    if (raw == "false") return false;
    fail(key, "\"" + printable_name(raw) + "\" is not true or false");
}

std::vector<int> MetadataReader::integer_list(const std::string& key, int lo, int hi) const {
    const std::string& raw = text(key);
    std::vector<int> values;
    if (raw.empty()) return values;
    size_t start = 0;
    while (true) {
        size_t comma = raw.find(',', start);
        std::string item = raw.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        int value = 0;
        if (!parse_bounded_int(item, lo, hi, &value)) {
            fail(key, "\"" + printable_name(item) + "\" is not an integer in " + std::to_string(lo) + ".." +
                          std::to_string(hi));
        }
        if (!values.empty() && value <= values.back()) fail(key, "values are not strictly increasing");
        values.push_back(value);
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return values;
}

std::vector<std::string> MetadataReader::string_list(const std::string& key) const {
    nlohmann::json parsed;
    try {
        parsed = nlohmann::json::parse(text(key));
    } catch (const nlohmann::json::exception& error) {
        fail(key, std::string("not a JSON array of strings: ") + error.what());
    }
    if (!parsed.is_array()) fail(key, "not a JSON array of strings");
    std::vector<std::string> values;
    for (const auto& item : parsed) {
        if (!item.is_string()) fail(key, "not a JSON array of strings (item " + std::to_string(values.size()) + ")");
        values.push_back(item.get<std::string>());
    }
    return values;
}

}  // namespace sparsifiner
