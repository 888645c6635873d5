#include "cli/visualize_draw.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace sparsifiner {

namespace {

// Anchors of the ramp: dark violet at 0 (not black, so a weak kept key still reads as "kept"),
// through purple and red-orange, to pale yellow at 1.
constexpr float kRamp[][3] = {
    {40, 11, 84}, {101, 21, 110}, {159, 42, 99}, {212, 72, 66}, {245, 125, 21}, {250, 193, 39}, {252, 255, 164}};
constexpr int kRampStops = sizeof(kRamp) / sizeof(kRamp[0]);

uint8_t clamp_byte(float v) { return (uint8_t)std::lround(std::min(255.0f, std::max(0.0f, v))); }

void pixel_set(RgbImage& image, int x, int y, Rgb c) {
    uint8_t* p = image.pixels.data() + ((size_t)y * image.width + x) * 3;
    p[0] = c.r, p[1] = c.g, p[2] = c.b;
}

}  // namespace

void rect_fill(RgbImage& image, int x0, int y0, int w, int h, Rgb c) {
    for (int y = std::max(0, y0); y < std::min(image.height, y0 + h); y++)
        for (int x = std::max(0, x0); x < std::min(image.width, x0 + w); x++) pixel_set(image, x, y, c);
}

RgbImage image_blank(int width, int height, Rgb c) {
    RgbImage image;
    image.width = width, image.height = height;
    image.pixels.resize((size_t)width * height * 3);
    rect_fill(image, 0, 0, width, height, c);
    return image;
}

void image_paste(RgbImage& image, const RgbImage& part, int x0, int y0) {
    if (x0 < 0 || y0 < 0 || x0 + part.width > image.width || y0 + part.height > image.height)
        throw std::invalid_argument("image_paste: the part does not fit");
    for (int y = 0; y < part.height; y++)
        std::copy(part.pixels.begin() + (size_t)y * part.width * 3, part.pixels.begin() + (size_t)(y + 1) * part.width * 3,
                  image.pixels.begin() + ((size_t)(y0 + y) * image.width + x0) * 3);
}

Rgb heat_colour(float t) {
    t = std::min(1.0f, std::max(0.0f, std::isfinite(t) ? t : 0.0f));
    const float at = t * (kRampStops - 1);
    const int i = std::min(kRampStops - 2, (int)at);
    const float f = at - i;
    const float* a = kRamp[i];
    const float* b = kRamp[i + 1];
    return {clamp_byte(a[0] + f * (b[0] - a[0])), clamp_byte(a[1] + f * (b[1] - a[1])),
            clamp_byte(a[2] + f * (b[2] - a[2]))};
}

RgbImage patch_heat_panel(const RgbImage& crop, int grid, int scale, const std::vector<float>& cell_value) {
    if (grid <= 0 || scale <= 0 || (int)cell_value.size() != grid * grid)
        throw std::invalid_argument("patch_heat_panel: bad geometry");
    const bool photo = !crop.pixels.empty();
    if (photo && (crop.width != crop.height || crop.width % grid != 0))
        throw std::invalid_argument("patch_heat_panel: the crop is not a square of whole patches");
    const int size = photo ? crop.width * scale : grid * 16 * scale;
    const int cell_px = size / grid;
    RgbImage out = image_blank(size, size, {0, 0, 0});
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++) {
            float r = 0, g = 0, b = 0;
            if (photo) {
                const uint8_t* s = crop.pixels.data() + ((size_t)(y / scale) * crop.width + x / scale) * 3;
                r = s[0], g = s[1], b = s[2];
            }
            const float value = cell_value[(size_t)(y / cell_px) * grid + x / cell_px];
            Rgb c;
            if (value == kPatchPlain) {
                c = {clamp_byte(r), clamp_byte(g), clamp_byte(b)};
            } else if (value >= 0) {
                // The photo stays visible under the heat so one can see what the key looks at.
                const Rgb h = heat_colour(value);
                const float keep = photo ? 0.4f : 0.0f;
                c = {clamp_byte(keep * r + (1 - keep) * h.r), clamp_byte(keep * g + (1 - keep) * h.g),
                     clamp_byte(keep * b + (1 - keep) * h.b)};
            } else {
                // Grey (R = G = B), so dropped keys never look like heat.
                const float luma = 0.299f * r + 0.587f * g + 0.114f * b;
                const uint8_t v = clamp_byte(luma * (value == kPatchPruned ? 0.12f : 0.35f));
                c = {v, v, v};
            }
            pixel_set(out, x, y, c);
        }
    return out;
}

void cell_outline(RgbImage& image, int row, int col, int cell_px, int thickness, Rgb colour) {
    const int x0 = col * cell_px, y0 = row * cell_px;
    rect_fill(image, x0, y0, cell_px, thickness, colour);
    rect_fill(image, x0, y0 + cell_px - thickness, cell_px, thickness, colour);
    rect_fill(image, x0, y0, thickness, cell_px, colour);
    rect_fill(image, x0 + cell_px - thickness, y0, thickness, cell_px, colour);
}

RgbImage panels_tile(const std::vector<RgbImage>& panels, int columns, int gap) {
    if (panels.empty() || columns <= 0) throw std::invalid_argument("panels_tile: nothing to tile");
    const int pw = panels[0].width, ph = panels[0].height, n = (int)panels.size();
    const int cols = std::min(columns, n), rows = (n + cols - 1) / cols;
    RgbImage out = image_blank(cols * pw + (cols - 1) * gap, rows * ph + (rows - 1) * gap, kGapColour);
    for (int i = 0; i < n; i++) {
        if (panels[i].width != pw || panels[i].height != ph)
            throw std::invalid_argument("panels_tile: panels differ in size");
        image_paste(out, panels[i], (i % cols) * (pw + gap), (i / cols) * (ph + gap));
    }
    return out;
}

}  // namespace sparsifiner
