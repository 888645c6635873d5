// The DeiT evaluation transform (SPEC 6), written to agree with timm's eval pipeline on PIL images:
// Resize(floor(size / crop_pct), BICUBIC) -> CenterCrop(size) -> ToTensor -> Normalize.
#include "image/image.h"

#include <charconv>
#include <cmath>
#include <cstdint>

namespace sparsifiner {

namespace {

constexpr long long max_resized_pixels = 1LL << 27;  // as for decoding

// timm computes floor(size / crop_pct) in Python doubles from a decimal crop_pct such as 0.875
// or 0.9. A float 0.8 is 0.800000011920929, which would give floor(224 / 0.8f) = 279 instead
// of 280, so go back to the shortest decimal that the float stands for before dividing.
int scale_size_for(int size, float crop_pct) {
    char text[32];
    auto written = std::to_chars(text, text + sizeof text, crop_pct);
    double pct = crop_pct;
    if (written.ec == std::errc()) std::from_chars(text, written.ptr, pct);
    return static_cast<int>(std::floor(size / pct));
}

// Python's round() on (d / 2.0): halves go to the even neighbour, as torchvision's CenterCrop
// computes int(round((h - crop) / 2.0)).
int half_rounded_to_even(int d) {
    int q = d / 2;  // d >= 0 here
    if (d % 2 == 0) return q;
    return (q % 2 == 0) ? q : q + 1;
}

// Offset of the crop in one dimension. A crop larger than the image is padded with zeros as
// torchvision does: (crop - dim) // 2 before, the rest after, so the offset is negative.
int crop_offset(int dim, int crop) {
    if (crop > dim) return -((crop - dim) / 2);
    return half_rounded_to_even(dim - crop);
}

}  // namespace

RgbImage image_resize_crop(const RgbImage& image, int size, float crop_pct) {
    if (size <= 0) throw ImageError("image_resize_crop: size must be positive, got " +
                                    std::to_string(size));
    if (!(crop_pct > 0.0f) || !std::isfinite(crop_pct))
        throw ImageError("image_resize_crop: crop_pct must be a positive number");
    if (image.width <= 0 || image.height <= 0)
        throw ImageError("image_resize_crop: empty image");
    double scale_size_d = std::floor(size / static_cast<double>(crop_pct));
    if (scale_size_d > 65536) throw ImageError("image_resize_crop: size / crop_pct is too large");
    int scale_size = scale_size_for(size, crop_pct);
    if (scale_size < 1) throw ImageError("image_resize_crop: size / crop_pct is below one pixel");

    // torchvision's Resize(int): the shorter side becomes scale_size, the longer one
    // int(scale_size * long / short). Integer division gives the same truncation exactly.
    bool wide = image.width > image.height;
    long long short_side = wide ? image.height : image.width;
    long long long_side = wide ? image.width : image.height;
    long long new_long = scale_size * long_side / short_side;
    int new_w = static_cast<int>(wide ? new_long : scale_size);
    int new_h = static_cast<int>(wide ? scale_size : new_long);
    if (new_long > (1LL << 30) || static_cast<long long>(new_w) * new_h > max_resized_pixels)
        throw ImageError("image_resize_crop: resizing " + std::to_string(image.width) + "x" +
                         std::to_string(image.height) + " to " + std::to_string(scale_size) +
                         " on the shorter side would exceed 2^27 pixels");

    // Unchanged size: no resampling at all (Pillow returns a copy too).
    RgbImage resized_storage;
    const RgbImage* resized = &image;
    if (new_w != image.width || new_h != image.height) {
        resized_storage = image_resize_bicubic(image, new_w, new_h);
        resized = &resized_storage;
    }

    int top = crop_offset(resized->height, size);
    int left = crop_offset(resized->width, size);
    RgbImage out;
    out.width = size;
    out.height = size;
    out.pixels.assign(static_cast<size_t>(size) * size * 3, 0);
    for (int y = 0; y < size; y++) {
        int sy = top + y;
        if (sy < 0 || sy >= resized->height) continue;
        for (int x = 0; x < size; x++) {
            int sx = left + x;
            if (sx < 0 || sx >= resized->width) continue;
            const uint8_t* p = &resized->pixels[(static_cast<size_t>(sy) * resized->width + sx) * 3];
            uint8_t* q = &out.pixels[(static_cast<size_t>(y) * size + x) * 3];
            q[0] = p[0];
            q[1] = p[1];
            q[2] = p[2];
        }
    }
    return out;
}

namespace {

// Pillow's L24 macro (libImaging/Convert.c): the three weights sum to 65536, so r = g = b maps
// back to itself exactly.
uint8_t luma_601(const uint8_t* rgb) {
    return static_cast<uint8_t>((rgb[0] * 19595u + rgb[1] * 38470u + rgb[2] * 7471u + 0x8000u) >> 16);
}

}  // namespace

RgbImage image_to_grey(const RgbImage& image) {
    RgbImage out = image;
    const size_t pixels = static_cast<size_t>(image.width) * image.height;
    for (size_t i = 0; i < pixels; i++) {
        uint8_t* p = &out.pixels[i * 3];
        p[0] = p[1] = p[2] = luma_601(p);
    }
    return out;
}

void image_normalize(const RgbImage& image, const ImagePreprocess& p, float* out) {
    if (p.channels != 1 && p.channels != 3)
        throw ImageError("image_normalize: " + std::to_string(p.channels) + " input channels (only 1 and 3 are images)");
    if (p.mean.size() != static_cast<size_t>(p.channels) || p.std_dev.size() != static_cast<size_t>(p.channels))
        throw ImageError("image_normalize: mean and std need one value per channel");
    // In float32 and in this order (divide by 255, subtract mean, divide by std) to round the
    // way torchvision's ToTensor + Normalize do.
    const size_t plane = static_cast<size_t>(image.width) * image.height;
    for (int c = 0; c < p.channels; c++)
        for (size_t i = 0; i < plane; i++) {
            const uint8_t* rgb = &image.pixels[i * 3];
            const uint8_t value = p.channels == 1 ? luma_601(rgb) : rgb[c];
            float v = static_cast<float>(value) / 255.0f;
            out[c * plane + i] = (v - p.mean[c]) / p.std_dev[c];
        }
}

RgbImage image_prepare(const RgbImage& decoded, int size, const ImagePreprocess& p, float* out) {
    RgbImage crop = image_resize_crop(p.channels == 1 ? image_to_grey(decoded) : decoded, size, p.crop_pct);
    image_normalize(crop, p, out);
    return crop;
}

}  // namespace sparsifiner
