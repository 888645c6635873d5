#pragma once
// Test-only: writes safetensors images in memory so the loader tests control every byte.
// Tensors are laid out back to back in the order they are added.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace sparsifiner_test {

struct SafetensorsBuilder {
    nlohmann::json header = nlohmann::json::object();
    std::vector<uint8_t> data;

    void add_raw(const std::string& name, const std::string& dtype, const std::vector<int64_t>& shape,
                 const std::vector<uint8_t>& bytes) {
        size_t begin = data.size();
        data.insert(data.end(), bytes.begin(), bytes.end());
        header[name] = {{"dtype", dtype}, {"shape", shape}, {"data_offsets", {begin, data.size()}}};
    }

    void add_f32(const std::string& name, const std::vector<int64_t>& shape, const std::vector<float>& values) {
        std::vector<uint8_t> bytes(values.size() * 4);
        if (!values.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
        add_raw(name, "F32", shape, bytes);
    }

    void add_u16(const std::string& name, const std::string& dtype, const std::vector<int64_t>& shape,
                 const std::vector<uint16_t>& values) {
        std::vector<uint8_t> bytes;
        for (uint16_t v : values) {
            bytes.push_back(static_cast<uint8_t>(v & 0xff));
            bytes.push_back(static_cast<uint8_t>(v >> 8));
        }
        add_raw(name, dtype, shape, bytes);
    }

    void set_metadata(const std::string& key, const std::string& value) { header["__metadata__"][key] = value; }

    std::vector<uint8_t> bytes() const { return assemble(header.dump(), data); }

    // Any header text, with the correct length prefix.
    static std::vector<uint8_t> assemble(const std::string& header_text, const std::vector<uint8_t>& data) {
        std::vector<uint8_t> out;
        uint64_t length = header_text.size();
        for (int i = 0; i < 8; i++) out.push_back(static_cast<uint8_t>(length >> (8 * i)));
        out.insert(out.end(), header_text.begin(), header_text.end());
        out.insert(out.end(), data.begin(), data.end());
        return out;
    }
};

}  // namespace sparsifiner_test
