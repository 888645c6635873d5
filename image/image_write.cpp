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

void image_write_png(const std::string& path, const RgbImage& image) {
    if (image.width <= 0 || image.height <= 0 ||
        image.pixels.size() != (size_t)image.width * image.height * 3)
        throw ImageError(path + ": nothing to write (an empty or inconsistent image)");
    // stb reports failure only as 0 (it cannot open the file or allocate): the usual cause is
    // a missing folder or no permission.
    const int ok = stbi_write_png(path.c_str(), image.width, image.height, 3, image.pixels.data(), image.width * 3);
    if (!ok) throw ImageError(path + ": cannot write the PNG (does the folder exist, is it writable?)");
}

}  // namespace sparsifiner
