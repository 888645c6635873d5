#include "datasets/fashion_mnist.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

// Debian ships the IDX files gzipped and the build does not link zlib: stb_image's own inflate
// (compiled here as a private, static copy; only its PNG/zlib part) decodes the deflate stream.
#define STB_IMAGE_STATIC
#define STBI_ONLY_PNG
#define STBI_NO_STDIO
#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>

namespace sparsifiner {

namespace {

// Fashion-MNIST's largest file (train images) is 47 MB inflated.
constexpr size_t kMaxInflatedBytes = size_t(1) << 30;

uint32_t read_be32(const uint8_t* p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

// RFC 1952: the header is 10 bytes, then optional extra field, name, comment and header CRC.
std::vector<uint8_t> gunzip(const std::vector<uint8_t>& bytes, const std::string& path) {
    if (bytes.size() < 18 || bytes[2] != 8) throw DataSourceError(path + ": not a deflate gzip file");
    const uint8_t flags = bytes[3];
    size_t at = 10;
    if (flags & 4) {  // FEXTRA
        if (at + 2 > bytes.size()) throw DataSourceError(path + ": truncated gzip header");
        at += 2 + (bytes[at] | bytes[at + 1] << 8);
    }
    for (int bit : {8, 16}) {  // FNAME, FCOMMENT: zero-terminated strings
        if (!(flags & bit)) continue;
        while (at < bytes.size() && bytes[at] != 0) at++;
        at++;
    }
    if (flags & 2) at += 2;  // FHCRC
    if (at + 8 > bytes.size()) throw DataSourceError(path + ": truncated gzip header");
    const size_t stored_size = bytes[bytes.size() - 4] | bytes[bytes.size() - 3] << 8 |
                               bytes[bytes.size() - 2] << 16 | (size_t)bytes[bytes.size() - 1] << 24;
    // A gzip bomb must not inflate: the output buffer is exactly the size the trailer declares
    // (ISIZE), which is capped and which deflate's 1032:1 maximum ratio must allow; a stream
    // that would inflate to more fails inside the fixed buffer.
    const size_t compressed = bytes.size() - at;
    if (stored_size > kMaxInflatedBytes)
        throw DataSourceError(path + ": gzip data declares " + std::to_string(stored_size) + " bytes, more than the " +
                              std::to_string(kMaxInflatedBytes >> 20) + " MiB limit");
    if (stored_size > compressed * 1032 + 1024) throw DataSourceError(path + ": gzip length field is impossible");
    std::vector<uint8_t> result(stored_size);
    // The 8-byte trailer is handed over too: stb's bit reader looks ahead past the last code and
    // calls a stream that ends exactly at the final block corrupt. One spare byte tells a stream
    // longer than declared from an exact one.
    result.push_back(0);
    const int out_size = stbi_zlib_decode_noheader_buffer((char*)result.data(), (int)result.size(),
                                                          (const char*)bytes.data() + at, (int)compressed);
    if (out_size < 0) throw DataSourceError(path + ": corrupt gzip data, or longer than its length field");
    // ISIZE is the length modulo 2^32: a mismatch means a truncated or damaged stream.
    if ((size_t)out_size != stored_size) throw DataSourceError(path + ": gzip length mismatch");
    result.resize(stored_size);
    return result;
}

}  // namespace

std::vector<uint8_t> file_read_maybe_gzip(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw DataSourceError(path + ": cannot open");
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b) return gunzip(bytes, path);
    return bytes;
}

GreyImages idx_images_read(const std::string& path, long limit, int* total) {
    const std::vector<uint8_t> bytes = file_read_maybe_gzip(path);
    if (bytes.size() < 16 || read_be32(bytes.data()) != 0x00000803)
        throw DataSourceError(path + ": not an IDX file of 8-bit images (magic 0x00000803)");
    GreyImages images;
    const uint32_t count = read_be32(bytes.data() + 4), rows = read_be32(bytes.data() + 8),
                   cols = read_be32(bytes.data() + 12);
    if (rows == 0 || cols == 0 || rows > 4096 || cols > 4096 || count > (1u << 24))
        throw DataSourceError(path + ": implausible IDX sizes");
    const size_t needed = (size_t)count * rows * cols;
    if (bytes.size() - 16 < needed)
        throw DataSourceError(path + ": truncated (" + std::to_string(count) + " images of " + std::to_string(rows) +
                              "x" + std::to_string(cols) + " need " + std::to_string(needed) + " bytes)");
    if (total != nullptr) *total = (int)count;
    const uint32_t kept = limit > 0 && (unsigned long)limit < count ? (uint32_t)limit : count;
    images.count = (int)kept, images.rows = (int)rows, images.cols = (int)cols;
    images.pixels.assign(bytes.begin() + 16, bytes.begin() + 16 + (size_t)kept * rows * cols);
    return images;
}

std::vector<uint8_t> idx_labels_read(const std::string& path) {
    const std::vector<uint8_t> bytes = file_read_maybe_gzip(path);
    if (bytes.size() < 8 || read_be32(bytes.data()) != 0x00000801)
        throw DataSourceError(path + ": not an IDX label file (magic 0x00000801)");
    const uint32_t count = read_be32(bytes.data() + 4);
    if (bytes.size() - 8 < count) throw DataSourceError(path + ": truncated");
    return std::vector<uint8_t>(bytes.begin() + 8, bytes.begin() + 8 + count);
}

bool fashion_mnist_find(const std::string& dir, const std::string& split, std::string* images_path,
                        std::string* labels_path) {
    namespace fs = std::filesystem;
    std::error_code error;
    for (const char* suffix : {".gz", ""}) {
        const std::string images = dir + "/" + split + "-images-idx3-ubyte" + suffix;
        if (!fs::is_regular_file(images, error)) continue;
        *images_path = images;
        *labels_path = dir + "/" + split + "-labels-idx1-ubyte" + suffix;
        return true;
    }
    return false;
}

const std::vector<std::string>& fashion_mnist_class_names() {
    static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                   "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
    return names;
}

}  // namespace sparsifiner
