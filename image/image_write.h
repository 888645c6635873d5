#pragma once
// Writing 8-bit RGB images as PNG (stb_image_write), for pictures the tool draws.
#include <cstdint>
#include <string>
#include <vector>

#include "image/image.h"

namespace sparsifiner {

// Encodes image as an RGB PNG in memory (the caller writes the bytes: cli/output_file.h writes
// them atomically). Throws ImageError "<label>: <problem>" when the image is empty or
// inconsistent, or the encoder fails.
std::vector<uint8_t> image_encode_png(const RgbImage& image, const std::string& label);

}  // namespace sparsifiner
