// Separable antialiased bicubic resampling (Keys kernel, a = -0.5), in the convention shared by
// Pillow's Image.resize(BICUBIC) and torch's interpolate(bicubic, antialias=True):
//   scale        = in / out
//   filter_scale = max(scale, 1)          (the kernel is stretched only when shrinking)
//   support      = 2 * filter_scale       (in input pixels)
//   centre of output pixel i, in input coordinates: (i + 0.5) * scale
//   taps: input pixels j in [floor(centre - support + 0.5), floor(centre + support + 0.5)),
//         clipped to the image, weight K((j + 0.5 - centre) / filter_scale), then divided by
//         their sum so that a constant image stays constant (this is also how the border is
//         handled: no padding, the clipped window is renormalised).
// Both libraries resample the width first, then the height.
//
// u8 (images, Pillow): weights become integers with 22 fractional bits (round half away from
// zero), each pass adds half an LSB, shifts and clamps to 0..255, so the intermediate image is
// 8-bit. Matching this bit for bit is what makes our preprocessing equal torchvision's on PIL.
// f32 (pos_embed, torch): no rounding anywhere.
#include "image/image.h"
#include "image/resample.h"

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace sparsifiner {

namespace {

constexpr int coefficient_bits = 22;  // Pillow's precision for 8-bit images: 32 - 8 - 2

double bicubic_kernel(double x) {
    const double a = -0.5;
    if (x < 0) x = -x;
    if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
    return 0;
}

// For every output index: the first input index and the normalised weights of its window.
struct resample_plan {
    int taps = 0;               // stride of weights: the widest possible window
    std::vector<int> first;     // [out]
    std::vector<int> count;     // [out], <= taps
    std::vector<double> weights;  // [out, taps]
};

resample_plan resample_plan_make(int in_size, int out_size) {
    double scale = static_cast<double>(in_size) / out_size;
    double filter_scale = scale > 1.0 ? scale : 1.0;
    double support = 2.0 * filter_scale;

    resample_plan plan;
    plan.taps = static_cast<int>(std::ceil(support)) * 2 + 1;
    plan.first.resize(out_size);
    plan.count.resize(out_size);
    plan.weights.assign(static_cast<size_t>(out_size) * plan.taps, 0.0);
    for (int i = 0; i < out_size; i++) {
        double centre = (i + 0.5) * scale;
        int lo = static_cast<int>(std::floor(centre - support + 0.5));
        int hi = static_cast<int>(std::floor(centre + support + 0.5));
        if (lo < 0) lo = 0;
        if (hi > in_size) hi = in_size;
        int n = hi - lo;
        if (n > plan.taps) n = plan.taps;  // cannot happen; keeps the stride honest
        double* w = &plan.weights[static_cast<size_t>(i) * plan.taps];
        double total = 0;
        for (int j = 0; j < n; j++) {
            w[j] = bicubic_kernel((j + lo - centre + 0.5) / filter_scale);
            total += w[j];
        }
        if (total != 0)
            for (int j = 0; j < n; j++) w[j] /= total;
        plan.first[i] = lo;
        plan.count[i] = n;
    }
    return plan;
}

// Pillow's fixed-point weights: round half away from zero at 22 fractional bits.
std::vector<int32_t> fixed_point_weights(const resample_plan& plan) {
    std::vector<int32_t> fixed(plan.weights.size());
    const double one = static_cast<double>(1 << coefficient_bits);
    for (size_t i = 0; i < plan.weights.size(); i++) {
        double w = plan.weights[i] * one;
        fixed[i] = static_cast<int32_t>(w < 0 ? w - 0.5 : w + 0.5);
    }
    return fixed;
}

uint8_t fixed_point_to_u8(int64_t acc) {
    if (acc <= 0) return 0;
    int64_t v = acc >> coefficient_bits;
    return static_cast<uint8_t>(v > 255 ? 255 : v);
}

// One u8 pass along the width: src is [h, in_w, 3], dst is [h, out_w, 3].
void resample_rows_u8(const uint8_t* src, int h, int in_w, uint8_t* dst, int out_w) {
    resample_plan plan = resample_plan_make(in_w, out_w);
    std::vector<int32_t> k = fixed_point_weights(plan);
    const int64_t half = int64_t(1) << (coefficient_bits - 1);
#pragma omp parallel for schedule(static)
    for (int y = 0; y < h; y++) {
        const uint8_t* row = src + static_cast<size_t>(y) * in_w * 3;
        uint8_t* out = dst + static_cast<size_t>(y) * out_w * 3;
        for (int x = 0; x < out_w; x++) {
            const int32_t* w = &k[static_cast<size_t>(x) * plan.taps];
            const uint8_t* p = row + static_cast<size_t>(plan.first[x]) * 3;
            int64_t acc0 = half, acc1 = half, acc2 = half;
            for (int j = 0; j < plan.count[x]; j++) {
                acc0 += int64_t(p[3 * j + 0]) * w[j];
                acc1 += int64_t(p[3 * j + 1]) * w[j];
                acc2 += int64_t(p[3 * j + 2]) * w[j];
            }
            out[3 * x + 0] = fixed_point_to_u8(acc0);
            out[3 * x + 1] = fixed_point_to_u8(acc1);
            out[3 * x + 2] = fixed_point_to_u8(acc2);
        }
    }
}

// One u8 pass along the height: src is [in_h, w, 3], dst is [out_h, w, 3].
void resample_columns_u8(const uint8_t* src, int in_h, int w, uint8_t* dst, int out_h) {
    resample_plan plan = resample_plan_make(in_h, out_h);
    std::vector<int32_t> k = fixed_point_weights(plan);
    const int64_t half = int64_t(1) << (coefficient_bits - 1);
    const size_t row_stride = static_cast<size_t>(w) * 3;
#pragma omp parallel for schedule(static)
    for (int y = 0; y < out_h; y++) {
        const int32_t* wy = &k[static_cast<size_t>(y) * plan.taps];
        const uint8_t* top = src + static_cast<size_t>(plan.first[y]) * row_stride;
        uint8_t* out = dst + static_cast<size_t>(y) * row_stride;
        for (size_t i = 0; i < row_stride; i++) {
            int64_t acc = half;
            for (int j = 0; j < plan.count[y]; j++) acc += int64_t(top[j * row_stride + i]) * wy[j];
            out[i] = fixed_point_to_u8(acc);
        }
    }
}

}  // namespace

RgbImage image_resize_bicubic(const RgbImage& image, int width, int height) {
    if (width <= 0 || height <= 0 || image.width <= 0 || image.height <= 0)
        throw ImageError("image_resize_bicubic: sizes must be positive (from " +
                         std::to_string(image.width) + "x" + std::to_string(image.height) +
                         " to " + std::to_string(width) + "x" + std::to_string(height) + ")");
    // A pass whose size does not change is skipped, as Pillow does (its weights would be an
    // exact identity anyway).
    RgbImage wide;
    const RgbImage* stage = &image;
    if (width != image.width) {
        wide.width = width;
        wide.height = image.height;
        wide.pixels.resize(static_cast<size_t>(width) * image.height * 3);
        resample_rows_u8(image.pixels.data(), image.height, image.width, wide.pixels.data(), width);
        stage = &wide;
    }
    if (height == stage->height) return stage == &image ? image : wide;
    RgbImage out;
    out.width = width;
    out.height = height;
    out.pixels.resize(static_cast<size_t>(width) * height * 3);
    resample_columns_u8(stage->pixels.data(), stage->height, width, out.pixels.data(), height);
    return out;
}

void resample_bicubic_f32(const float* src, int channels, int in_h, int in_w,
                          float* dst, int out_h, int out_w) {
    if (channels <= 0 || in_h <= 0 || in_w <= 0 || out_h <= 0 || out_w <= 0)
        throw std::invalid_argument("resample_bicubic_f32: sizes must be positive");
    resample_plan plan_x = resample_plan_make(in_w, out_w);
    resample_plan plan_y = resample_plan_make(in_h, out_h);
    // Width first into [channels, in_h, out_w], then height; the intermediate stays float,
    // as torch's does.
    std::vector<float> wide(static_cast<size_t>(channels) * in_h * out_w);
    for (int c = 0; c < channels; c++) {
        for (int y = 0; y < in_h; y++) {
            const float* row = src + (static_cast<size_t>(c) * in_h + y) * in_w;
            float* out = &wide[(static_cast<size_t>(c) * in_h + y) * out_w];
            for (int x = 0; x < out_w; x++) {
                const double* w = &plan_x.weights[static_cast<size_t>(x) * plan_x.taps];
                double acc = 0;
                for (int j = 0; j < plan_x.count[x]; j++) acc += row[plan_x.first[x] + j] * w[j];
                out[x] = static_cast<float>(acc);
            }
        }
    }
    for (int c = 0; c < channels; c++) {
        const float* plane = &wide[static_cast<size_t>(c) * in_h * out_w];
        for (int y = 0; y < out_h; y++) {
            const double* w = &plan_y.weights[static_cast<size_t>(y) * plan_y.taps];
            float* out = dst + (static_cast<size_t>(c) * out_h + y) * out_w;
            for (int x = 0; x < out_w; x++) {
                double acc = 0;
                for (int j = 0; j < plan_y.count[y]; j++)
                    acc += plane[static_cast<size_t>(plan_y.first[y] + j) * out_w + x] * w[j];
                out[x] = static_cast<float>(acc);
            }
        }
    }
}

}  // namespace sparsifiner
