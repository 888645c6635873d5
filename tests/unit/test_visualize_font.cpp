// The bitmap font of `sparsifiner visualize` (cli/visualize_font.h): every printable glyph has
// ink and differs from every other, and the width and drawing follow the 6x8 cell.
#include <doctest/doctest.h>

#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "cli/visualize_font.h"

using namespace sparsifiner;

namespace {

std::vector<uint8_t> glyph_of(char c) { return {glyph_rows(c), glyph_rows(c) + kGlyphRows}; }

RgbImage blank(int width, int height) {
    RgbImage image;
    image.width = width, image.height = height;
    image.pixels.assign((size_t)width * height * 3, 0);
    return image;
}

bool lit(const RgbImage& image, int x, int y) { return image.pixels[((size_t)y * image.width + x) * 3] != 0; }

}  // namespace

TEST_CASE("every printable glyph but space has ink, within 5 columns; only descenders use row 8") {
    const std::string descenders = "gjpqy,;";
    for (int c = 33; c <= 126; c++) {
        const std::vector<uint8_t> rows = glyph_of((char)c);
        int ink = 0;
        for (uint8_t row : rows) {
            CHECK((row >> kGlyphWidth) == 0);
            ink += row != 0;
        }
        CHECK_MESSAGE(ink > 0, "glyph " << std::string(1, (char)c) << " is empty");
        CHECK_MESSAGE((rows[kGlyphHeight] != 0) == (descenders.find((char)c) != std::string::npos),
                      "glyph " << std::string(1, (char)c) << " below the baseline");
    }
    for (uint8_t row : glyph_of(' ')) CHECK(row == 0);
}

TEST_CASE("all printable glyphs are distinct, and a character outside ASCII draws as '?'") {
    std::set<std::vector<uint8_t>> seen;
    for (int c = 32; c <= 126; c++) CHECK_MESSAGE(seen.insert(glyph_of((char)c)).second, "glyph " << std::string(1, (char)c) << " repeats");
    CHECK(glyph_of('\x7f') == glyph_of('?'));
    CHECK(glyph_of('\n') == glyph_of('?'));
    CHECK(glyph_of((char)0xE9) == glyph_of('?'));
}

TEST_CASE("text_width is the 6-pixel advance times the scale") {
    CHECK(text_width("", 1) == 0);
    CHECK(text_width("A", 1) == 6);
    CHECK(text_width("layer 1", 1) == 42);
    CHECK(text_width("layer 1", 3) == 126);
    CHECK(text_height(2) == 16);
}

TEST_CASE("draw_text puts each font pixel as a scale x scale square at the cell's corner") {
    RgbImage image = blank(40, 20);
    const int end = draw_text(image, 2, 3, "I-", {255, 255, 255}, 2);
    CHECK(end == 2 + text_width("I-", 2));
    // 'I' row 0 is .###.: columns 1..3 lit, 0 and 4 dark; each font pixel covers 2x2.
    CHECK(!lit(image, 2 + 0, 3));
    CHECK(lit(image, 2 + 2, 3));
    CHECK(lit(image, 2 + 3, 4));
    CHECK(lit(image, 2 + 7, 4));
    CHECK(!lit(image, 2 + 8, 3));
    // '-' is a bar on row 3 only, in the second cell.
    CHECK(lit(image, 2 + 12, 3 + 6));
    CHECK(!lit(image, 2 + 12, 3 + 4));
    // Nothing is drawn outside the cells, and text running off the image is clipped, not a crash.
    int outside = 0;
    for (int y = 0; y < image.height; y++)
        for (int x = 0; x < image.width; x++)
            outside += lit(image, x, y) && (x < 2 || y < 3 || x >= end || y >= 3 + text_height(2));
    CHECK(outside == 0);
    draw_text(image, 35, 15, "WWW", {255, 0, 0}, 3);
    draw_text(image, -10, -5, "W", {255, 0, 0}, 3);
}

TEST_CASE("text_printable: one '?' per character outside printable ASCII, UTF-8 sequences included") {
    CHECK(text_printable("0000_ankle-boot.png") == "0000_ankle-boot.png");
    CHECK(text_printable("bottine_\xC3\xA9t\xC3\xA9.png") == "bottine_?t?.png");  // é: 2 bytes
    CHECK(text_printable("\xE7\x8C\xAB.jpg") == "?.jpg");                          // a CJK character: 3 bytes
    CHECK(text_printable("\xF0\x9F\x90\x88") == "?");                              // an emoji: 4 bytes
    CHECK(text_printable("a\tb\x7F") == "a?b?");
    CHECK(text_printable("\x80\x80") == "??");  // stray continuation bytes: one mark each
}
