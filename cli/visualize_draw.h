#pragma once
// Drawing helpers for `sparsifiner visualize`: a heat colormap, per-patch heat blended on the
// preprocessed crop, patch outlines, filled rectangles and panels tiled with gaps (the words
// around them: cli/visualize_figure.h). Pictures are for looking at, so every choice here is
// about contrast: kept keys glow in the heat colours, keys not kept fall back to a dim grey copy
// of the photo, and the query patch is outlined in cyan, a colour the heat map never uses.
#include <cstdint>
#include <vector>

#include "image/image.h"

namespace sparsifiner {

struct Rgb {
    uint8_t r, g, b;
};

constexpr Rgb kOutlineColour{0, 255, 255};  // cyan: absent from the heat map
constexpr Rgb kGapColour{255, 255, 255};    // white: never produced inside a panel

// Per-patch shading codes besides a heat value in [0, 1].
constexpr float kPatchDropped = -1.0f;  // alive but not kept: dim grey
constexpr float kPatchPruned = -2.0f;   // removed by token pruning before this layer: darker still
constexpr float kPatchPlain = -3.0f;    // the photo as it is (tokens that survive pruning)

// t in [0, 1] (clamped) -> a black-purple-red-yellow ramp (inferno-like), never grey or white.
Rgb heat_colour(float t);

// The crop (S x S, S = grid * patch) upscaled by `scale` (nearest), each patch cell shaded by
// cell_value[grid * grid] (raster order): >= 0 heat, kPatchDropped, kPatchPruned or
// kPatchPlain. An empty
// crop stands for a black photo (heat maps of weights alone).
RgbImage patch_heat_panel(const RgbImage& crop, int grid, int scale, const std::vector<float>& cell_value);

// A rectangle outline `thickness` px wide just inside patch cell (row, col) of cell_px pixels.
void cell_outline(RgbImage& image, int row, int col, int cell_px, int thickness, Rgb colour);

// A width x height image filled with c.
RgbImage image_blank(int width, int height, Rgb c);

// The w x h rectangle at (x0, y0) filled with c, clipped to the image.
void rect_fill(RgbImage& image, int x0, int y0, int w, int h, Rgb c);

// `part` copied into `image` with its top-left corner at (x0, y0); it must fit.
void image_paste(RgbImage& image, const RgbImage& part, int x0, int y0);

// Panels (all the same size) tiled left to right, top to bottom, `columns` per row, with `gap`
// px of kGapColour between neighbours and nothing around the edges.
RgbImage panels_tile(const std::vector<RgbImage>& panels, int columns, int gap);

}  // namespace sparsifiner
