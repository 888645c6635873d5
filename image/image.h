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

// Pillow's Image.resize((width, height), BICUBIC) for 8-bit RGB, bit for bit (image/resample.cpp).
RgbImage image_resize_bicubic(const RgbImage& image, int width, int height);

// Resize the shorter side to floor(size / crop_pct) with Pillow's antialiased bicubic (the
// intermediate rounded to 8 bits as Pillow does), centre-crop size x size. crop_pct 1.0 resizes
// the shorter side straight to size; an image already size x size passes through untouched.
RgbImage image_resize_crop(const RgbImage& image, int size, float crop_pct);

// What a model expects of its input (weights/METADATA.md: in_chans, mean, std, crop_pct).
struct ImagePreprocess {
    int channels = 3;  // 3 = RGB, 1 = grey
    std::vector<float> mean = {0.485f, 0.456f, 0.406f};  // one per channel, on the [0, 1] scale
    std::vector<float> std_dev = {0.229f, 0.224f, 0.225f};
    float crop_pct = 0.875f;
};

// Pillow's convert("L"): ITU-R 601-2 luma (299/587/114 per mille) in Pillow's 16-bit fixed point
// with rounding, written back to all three channels so the RGB resampling code applies as is.
// A grey image replicated to RGB comes back unchanged.
RgbImage image_to_grey(const RgbImage& image);

// Scale to [0,1] and normalise with p.mean and p.std_dev; out is [p.channels, width, height]
// (CHW). With one channel the luma of each pixel is used (the image is usually grey already).
void image_normalize(const RgbImage& image, const ImagePreprocess& p, float* out);

// The whole evaluation transform: grey first for a 1-channel model (as Pillow's convert("L")
// before Resize), then resize + centre crop to size x size, then normalise into out. Returns
// the crop the model sees (grey replicated to RGB for a 1-channel model), e.g. for pictures.
RgbImage image_prepare(const RgbImage& decoded, int size, const ImagePreprocess& p, float* out);

}  // namespace sparsifiner
