// Decoding any format stb_image reads into 8-bit RGB (SPEC 6), with bounds on file and image size
// so that a hostile or corrupt file is refused before anything large is allocated.
#include "image/image.h"
#include "image/image_jpeg.h"
#include "image/image_preflight.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include <sys/stat.h>

// Only the formats SPEC 6 lists; HDR and PSD/PIC would add attack surface and never occur here.
// JPEG is not among them: libjpeg-turbo decodes every JPEG (image/image_jpeg.h), and stb's own
// JPEG code must never see hostile bytes: its marker reader skips 0xFF fill, so a file that only
// begins with fill bytes before FF D8 passed the signature test and reached stb's Huffman table
// builder, which indexes out of bounds (found by tests/fuzz/fuzz_image.cpp).
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_ONLY_TGA
#define STBI_ONLY_GIF
#define STBI_ONLY_PNM
// Zeroed allocations: should a decoder ever leave a pixel unwritten (a short stream the checks
// in image/image_preflight.cpp do not catch), the result is the same zero on every run, never
// whatever the heap held before.
#define STBI_MALLOC(size) std::calloc(1, size)
#define STBI_REALLOC(pointer, size) std::realloc(pointer, size)
#define STBI_FREE(pointer) std::free(pointer)
// Static: the decoder's symbols stay private to this file; many of them go unused.
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "stb_image.h"
#pragma GCC diagnostic pop

namespace sparsifiner {

namespace {

constexpr int max_side = 16384;
// 2^27 pixels (134 megapixels, 384 MiB as RGB) is beyond any camera and keeps memory bounded.
constexpr long long default_max_pixels = 1LL << 27;
constexpr long long max_file_bytes = 1LL << 30;

struct file_closer {
    void operator()(std::FILE* f) const { std::fclose(f); }
};

struct stbi_freer {
    void operator()(stbi_uc* p) const { stbi_image_free(p); }
};

bool is_png(const uint8_t* bytes, size_t size) {
    static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    return size >= 8 && std::memcmp(bytes, signature, 8) == 0;
}

bool is_gif(const uint8_t* bytes, size_t size) {
    return size >= 4 && std::memcmp(bytes, "GIF8", 4) == 0;
}

// stb puts raw bytes of the file in some reasons ("<chunk type> PNG chunk not known"): escaped,
// so that the message stays one printable line.
std::string failure_reason() {
    const char* reason = stbi_failure_reason();
    if (reason == nullptr) return "unknown reason";
    std::string out;
    for (const char* p = reason; *p; p++) {
        const unsigned char c = static_cast<unsigned char>(*p);
        if (c < 0x20 || c >= 0x7F) {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
            out += escaped;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

}  // namespace

RgbImage image_decode(const uint8_t* bytes, size_t size, const std::string& label, long long max_pixels) {
    if (max_pixels <= 0 || max_pixels > default_max_pixels) max_pixels = default_max_pixels;
    if (size == 0) throw ImageError(label + ": empty file, not an image");
    // stb takes an int length; the file-size cap keeps us well inside it.
    if (size > static_cast<size_t>(max_file_bytes))
        throw ImageError(label + ": file larger than 1 GiB, refused");
    int len = static_cast<int>(size);

    // JPEG (FF D8 FF) goes to libjpeg-turbo (image/image_jpeg.cpp), header included; stb is built
    // without its JPEG decoder, so anything else that looks like JPEG to it is simply refused.
    const bool jpeg = size >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF;
    if (jpeg) {
        RgbImage image;
        std::string problem;
        jpeg_result result = image_decode_jpeg(bytes, size, {max_side, max_pixels}, image, problem);
        if (result == jpeg_result::decoded) return image;
        if (result == jpeg_result::failed) throw ImageError(label + ": " + problem);
    }
    // Structure and length first (16-bit and truncated PNM, truncated GIF and BMP, ...).
    const std::string problem = image_preflight(bytes, size);
    if (!problem.empty()) throw ImageError(label + ": " + problem);

    int width = 0, height = 0, channels = 0;
    // Read the header first: the size check must come before stb allocates the pixel buffer.
    if (!stbi_info_from_memory(bytes, len, &width, &height, &channels))
        throw ImageError(label + ": not a supported image (" + failure_reason() + ")");
    if (width <= 0 || height <= 0)
        throw ImageError(label + ": image has no pixels (" + std::to_string(width) + "x" +
                         std::to_string(height) + ")");
    if (width > max_side || height > max_side ||
        static_cast<long long>(width) * height > max_pixels)
        throw ImageError(label + ": image too large (" + std::to_string(width) + "x" +
                         std::to_string(height) + ", at most " + std::to_string(max_side) +
                         " per side and " + std::to_string(max_pixels) + " pixels)");

    // The one format without a signature: what stb accepted and is none of the others is a TGA.
    if (!jpeg && !is_png(bytes, size) && !is_gif(bytes, size)) {
        if (!(size >= 2 && bytes[0] == 'B' && bytes[1] == 'M') && !(size >= 2 && bytes[0] == 'P')) {
            const std::string tga_problem = image_preflight_tga(bytes, size);
            if (!tga_problem.empty()) throw ImageError(label + ": " + tga_problem);
        }
    }

    // Asking stb for 3 channels replicates grey and drops alpha without compositing, which is
    // what Pillow's convert("RGB") does for L, LA and RGBA (and P via its palette).
    int got_w = 0, got_h = 0, got_c = 0;
    std::unique_ptr<stbi_uc, stbi_freer> data(
        stbi_load_from_memory(bytes, len, &got_w, &got_h, &got_c, 3));
    if (!data) throw ImageError(label + ": cannot decode image (" + failure_reason() + ")");
    if (got_w != width || got_h != height)
        throw ImageError(label + ": image header and decoded size disagree");

    RgbImage image;
    image.width = width;
    image.height = height;
    size_t count = static_cast<size_t>(width) * height * 3;
    image.pixels.assign(data.get(), data.get() + count);
    return image;
}

RgbImage image_load(const std::string& path) {
    std::unique_ptr<std::FILE, file_closer> file(std::fopen(path.c_str(), "rb"));
    if (!file) throw ImageError(path + ": cannot open: " + std::strerror(errno));
    struct stat info;
    if (fstat(fileno(file.get()), &info) != 0)
        throw ImageError(path + ": cannot read: " + std::strerror(errno));
    if (S_ISDIR(info.st_mode)) throw ImageError(path + ": cannot open: Is a directory");
    if (S_ISREG(info.st_mode) && info.st_size > max_file_bytes)
        throw ImageError(path + ": file larger than 1 GiB, refused");

    // Read in chunks rather than trusting st_size, so pipes work and a growing file stays bounded.
    std::vector<uint8_t> bytes;
    if (S_ISREG(info.st_mode)) bytes.reserve(static_cast<size_t>(info.st_size));
    uint8_t chunk[1 << 16];
    for (;;) {
        size_t got = std::fread(chunk, 1, sizeof chunk, file.get());
        bytes.insert(bytes.end(), chunk, chunk + got);
        if (static_cast<long long>(bytes.size()) > max_file_bytes)
            throw ImageError(path + ": file larger than 1 GiB, refused");
        if (got < sizeof chunk) break;
    }
    if (std::ferror(file.get())) throw ImageError(path + ": cannot read: " + std::strerror(errno));
    return image_decode(bytes.data(), bytes.size(), path);
}

}  // namespace sparsifiner
