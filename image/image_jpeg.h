#pragma once
// Internal to image/image_decode.cpp: the optional libjpeg-turbo path for JPEG (image/image_jpeg.cpp).
#include <cstddef>
#include <cstdint>
#include <string>

#include "image/image.h"

namespace sparsifiner {

struct image_limits {
    long long max_side;
    long long max_pixels;
};

enum class jpeg_result {
    decoded,      // image holds the pixels
    failed,       // problem says why, without the file name
    not_handled,  // no libjpeg in this build, or a colour space it cannot turn into RGB
};

jpeg_result image_decode_jpeg(const uint8_t* bytes, size_t size, const image_limits& limits,
                              RgbImage& image, std::string& problem);

}  // namespace sparsifiner
