#pragma once
// A tiny bitmap font for the labels of `sparsifiner visualize`: printable ASCII (32..126), each
// glyph 5x7 pixels in a 6x8 cell (one blank column to the right; the row below the baseline is
// blank except for the descenders of g j p q y , ;), drawn at an integer scale. Our own glyphs, so pictures need no font file and come out the same
// bytes on every machine.
#include <cstdint>
#include <string>

#include "cli/visualize_draw.h"
#include "image/image.h"

namespace sparsifiner {

constexpr int kGlyphWidth = 5, kGlyphHeight = 7;  // ink of a glyph above the baseline
constexpr int kCellWidth = 6, kCellHeight = 8;    // the advance: glyph plus one blank column / row
constexpr int kGlyphRows = kCellHeight;           // rows stored per glyph (the last for descenders)

// The glyph of `c` as kGlyphRows rows, top first; bit 4 of a row is its leftmost pixel. A
// character outside 32..126 draws as '?'.
const uint8_t* glyph_rows(char c);

// Pixels the text advances at `scale`: kCellWidth * scale per character (the last one's blank
// column included). One line: '\n' is not special.
int text_width(const std::string& text, int scale);

// The line height at `scale`: kCellHeight * scale.
inline int text_height(int scale) { return kCellHeight * scale; }

// `text` with each character outside printable ASCII replaced by one '?': a UTF-8 sequence (a
// file name in another script) counts as one character, not one per byte, so that the picture
// shows as many cells as the name has characters.
std::string text_printable(const std::string& text);

// Draws `text` with its top-left cell corner at (x, y), each font pixel a scale x scale square
// of `colour`; pixels outside the image are skipped. Returns the x just after the text.
int draw_text(RgbImage& image, int x, int y, const std::string& text, Rgb colour, int scale);

}  // namespace sparsifiner
