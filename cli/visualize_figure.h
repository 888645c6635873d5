#pragma once
// The words around a `sparsifiner visualize` picture: a title strip on top (what was drawn: model,
// layer, head, query, mask, keep rate, image), and below the panels a caption saying what the
// colour means, the colour bar with tick labels, and a key of the shadings that are not heat.
// Also the number in the corner of each panel, and the note strip under a query panel. All text
// is the bitmap font of cli/visualize_font.h, so the bytes are the same on every machine.
#include <string>
#include <vector>

#include "cli/visualize_draw.h"
#include "image/image.h"

namespace sparsifiner {

constexpr Rgb kTextColour{20, 20, 20};  // text on the white strips

struct BarTick {
    float at;           // position on the colour ramp, 0 (left) to 1 (right)
    std::string label;  // the value the colour stands for there
};

struct KeySwatch {
    Rgb colour;
    bool outline;  // an outlined square (the query's cyan frame) instead of a filled one
    std::string label;
};

struct FigureText {
    std::vector<std::string> title;  // short phrases, packed into lines as "a | b | c" (a phrase
                                     // wider than a line is broken at its spaces)
    std::string caption;             // what the colour means (wrapped at spaces)
    std::vector<BarTick> ticks;      // most important first; empty = no colour bar
    std::vector<KeySwatch> key;      // shadings other than the heat ramp
};

// The text scale for a figure `width` px wide: 2 (12 x 16 px characters) from 240 px, else 1.
int figure_text_scale(int width);

// `text` cut in the middle ("abc...xyz") so that it is at most max_width px at `scale`.
std::string text_shorten(const std::string& text, int max_width, int scale);

// The body (the tiled panels) with the title strip above and caption, colour bar and key below,
// on white. The figure is at least 400 px wide (the body centred when narrower), so that a
// title line holds 32 characters at text scale 2; the body keeps its own pixels.
RgbImage figure_compose(const RgbImage& body, const FigureText& text);

// `label` (e.g. "head 1") in white on a black box in the top-left corner of the panel, at scale
// 2 when that box takes at most half the panel's width, else 1; a label wider than half the
// panel even at scale 1 keeps only its last word (the number).
void panel_label(RgbImage& panel, const std::string& label);

// The panel with a strip below (`gap` px of white, then a line of text height): a square of
// `swatch` then `note`, in the panel's label scale.
RgbImage panel_note_append(const RgbImage& panel, Rgb swatch, const std::string& note, int gap);

}  // namespace sparsifiner
