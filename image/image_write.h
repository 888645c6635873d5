#pragma once
// Writing 8-bit RGB images as PNG (stb_image_write), for pictures the tool draws.
#include <string>

#include "image/image.h"

namespace sparsifiner {

// Writes image as an RGB PNG at path. Throws ImageError "<path>: <problem>" when the image is
// empty or inconsistent, or the file cannot be written.
void image_write_png(const std::string& path, const RgbImage& image);

}  // namespace sparsifiner
