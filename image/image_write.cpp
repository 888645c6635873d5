#include "image/image_write.h"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC  // internal linkage: a test may carry its own copy
// The third-party header is not ours to tidy: keep its warnings out of the build log.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wunused-function"
#include <stb_image_write.h>
#pragma GCC diagnostic pop

namespace sparsifiner {

namespace {

void append_bytes(void* context, void* data, int size) {
    auto* out = static_cast<std::vector<uint8_t>*>(context);
    const auto* bytes = static_cast<const uint8_t*>(data);
    out->insert(out->end(), bytes, bytes + size);
}

}  // namespace

std::vector<uint8_t> image_encode_png(const RgbImage& image, const std::string& label) {
    if (image.width <= 0 || image.height <= 0 ||
        image.pixels.size() != (size_t)image.width * image.height * 3)
        throw ImageError(label + ": nothing to write (an empty or inconsistent image)");
    std::vector<uint8_t> bytes;
    // stb reports failure only as 0 (it could not allocate).
    const int ok = stbi_write_png_to_func(append_bytes, &bytes, image.width, image.height, 3, image.pixels.data(),
                                          image.width * 3);
    if (!ok) throw ImageError(label + ": cannot encode the PNG");
    return bytes;
}

}  // namespace sparsifiner
