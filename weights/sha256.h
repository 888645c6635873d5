#pragma once
// SHA-256 (FIPS 180-4) of a file or a byte string, as lower-case hex. Sweep documents record the
// weights' digest so that `merge` can refuse shards made with different weights under one name.
#include <cstddef>
#include <cstdint>
#include <string>

namespace sparsifiner {

class Sha256 {
public:
    Sha256();
    void update(const void* data, size_t size);
    std::string hex_digest();  // ends the hash; the object must not be updated afterwards

private:
    void block(const uint8_t* chunk);
    uint32_t state_[8];
    uint8_t buffer_[64];
    size_t buffered_ = 0;
    uint64_t total_bytes_ = 0;
};

std::string sha256_hex(const std::string& bytes);
// Throws std::runtime_error("<path>: cannot read ...") when the file cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace sparsifiner
