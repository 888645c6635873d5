#pragma once
// Decoding and the DeiT evaluation transform (SPEC section 6).
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace sparsifiner {

struct ImageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// 8-bit RGB, rows top to bottom, pixels interleaved (HWC).
struct RgbImage {
    int width = 0;
    int height = 0;
    std::vector<uint8_t> pixels;  // height * width * 3
};

// Decodes JPEG, PNG, BMP, TGA, GIF (first frame) or PNM with stb_image; grey, grey+alpha and
// RGBA become RGB (alpha dropped). Bounded: refuses images above a size cap. Throws ImageError
// with one line "<path>: <problem>".
RgbImage image_load(const std::string& path);
RgbImage image_decode(const uint8_t* bytes, size_t size, const std::string& label);

// The JPEG decoder this build uses: "libjpeg-turbo" (Pillow's, bit for bit) or "stb_image".
const char* image_jpeg_decoder();

// Pillow's Image.resize((width, height), BICUBIC) for 8-bit RGB, bit for bit (core/resample.cpp).
RgbImage image_resize_bicubic(const RgbImage& image, int width, int height);

// Resize the shorter side to floor(size / crop_pct) with Pillow's antialiased bicubic (the
// intermediate rounded to 8 bits as Pillow does), centre-crop size x size. crop_pct 1.0 resizes
// the shorter side straight to size; an image already size x size passes through untouched.
RgbImage image_resize_crop(const RgbImage& image, int size, float crop_pct);

// Scale to [0,1] and normalise with the ImageNet mean and std; out is [3, size, size] (CHW).
void image_normalize(const RgbImage& image, float* out);

}  // namespace sparsifiner
