// Decoding any format stb_image reads into 8-bit RGB (SPEC 6), with bounds on file and image size
// so that a hostile or corrupt file is refused before anything large is allocated.
#include "image/image.h"
#include "image/image_jpeg.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include <sys/stat.h>

// Only the formats SPEC 6 lists; HDR and PSD/PIC would add attack surface and never occur here.
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_ONLY_TGA
#define STBI_ONLY_GIF
#define STBI_ONLY_PNM
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
constexpr long long max_pixels = 1LL << 27;
constexpr long long max_file_bytes = 1LL << 30;

struct file_closer {
    void operator()(std::FILE* f) const { std::fclose(f); }
};

struct stbi_freer {
    void operator()(stbi_uc* p) const { stbi_image_free(p); }
};

std::string failure_reason() {
    const char* reason = stbi_failure_reason();
    return reason ? reason : "unknown reason";
}

}  // namespace

RgbImage image_decode(const uint8_t* bytes, size_t size, const std::string& label) {
    if (size == 0) throw ImageError(label + ": empty file, not an image");
    // stb takes an int length; the file-size cap keeps us well inside it.
    if (size > static_cast<size_t>(max_file_bytes))
        throw ImageError(label + ": file larger than 1 GiB, refused");
    int len = static_cast<int>(size);
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
                         " per side and 2^27 pixels)");

    // JPEG (FF D8 FF) goes to libjpeg-turbo when the build has it: see image/image_jpeg.cpp.
    if (size >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF) {
        RgbImage image;
        std::string problem;
        jpeg_result result = image_decode_jpeg(bytes, size, {max_side, max_pixels}, image, problem);
        if (result == jpeg_result::decoded) return image;
        if (result == jpeg_result::failed) throw ImageError(label + ": " + problem);
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
