#include "cli/visualize_figure.h"

#include <algorithm>

#include "cli/visualize_font.h"

namespace sparsifiner {

namespace {

constexpr int kMinFigureWidth = 400;  // 32 characters a line at text scale 2
constexpr Rgb kLabelBox{0, 0, 0};
constexpr Rgb kLabelText{255, 255, 255};
const std::string kTitleSeparator = " | ";

// Spacing in font pixels (multiplied by the text scale): a line is the 8-row cell plus 2 rows
// of leading, strips have 4 rows of padding.
constexpr int kLeading = 2, kPad = 4, kBarRows = 8, kTickRows = 3;

int line_step(int scale) { return text_height(scale) + kLeading * scale; }

std::vector<std::string> words_of(const std::string& text) {
    std::vector<std::string> words;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find(' ', start);
        if (end == std::string::npos) end = text.size();
        if (end > start) words.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return words;
}

// Phrases packed greedily into lines of at most max_width px, joined by the separator. A phrase too
// long for a line of its own is broken at its spaces, from a fresh line, so that no word of it is
// lost; only a single word longer than a line is shortened in the middle.
std::vector<std::string> phrases_pack(const std::vector<std::string>& phrases, const std::string& separator,
                                      int max_width, int scale) {
    std::vector<std::string> lines;
    for (const std::string& phrase : phrases) {
        if (phrase.empty()) continue;
        if (text_width(phrase, scale) > max_width) {
            bool fresh = true;
            for (const std::string& word : words_of(phrase)) {
                const std::string fitted = text_shorten(word, max_width, scale);
                if (!fresh && text_width(lines.back() + " " + fitted, scale) <= max_width)
                    lines.back() += " " + fitted;
                else
                    lines.push_back(fitted);
                fresh = false;
            }
            continue;
        }
        if (!lines.empty() && text_width(lines.back() + separator + phrase, scale) <= max_width)
            lines.back() += separator + phrase;
        else
            lines.push_back(phrase);
    }
    return lines;
}

struct KeyPlace {
    int x, line;
};

// Where each key item goes: a square one text height wide, a space, the label, then 3 spaces.
std::vector<KeyPlace> key_layout(const std::vector<KeySwatch>& key, int x0, int max_width, int scale) {
    std::vector<KeyPlace> places;
    int x = x0, line = 0;
    for (const KeySwatch& item : key) {
        const int w = text_height(scale) + text_width(" " + item.label, scale);
        if (x > x0 && x + w > x0 + max_width) x = x0, line++;
        places.push_back({x, line});
        x += w + text_width("   ", scale);
    }
    return places;
}

}  // namespace

int figure_text_scale(int width) { return width >= 240 ? 2 : 1; }

std::string text_shorten(const std::string& text, int max_width, int scale) {
    const int fits = max_width / (kCellWidth * scale);
    if ((int)text.size() <= fits) return text;
    if (fits <= 3) return text.substr(0, std::max(0, fits));
    const int keep = fits - 3, head = (keep + 1) / 2, tail = keep - head;
    return text.substr(0, head) + "..." + text.substr(text.size() - tail);
}

RgbImage figure_compose(const RgbImage& body, const FigureText& text) {
    const int width = std::max(body.width, kMinFigureWidth);
    const int s = figure_text_scale(width), pad = kPad * s, step = line_step(s);
    const int text_w = width - 2 * pad;

    const std::vector<std::string> title = phrases_pack(text.title, kTitleSeparator, text_w, s);
    const std::vector<std::string> caption = phrases_pack(words_of(text.caption), " ", text_w, s);
    const std::vector<KeyPlace> key = key_layout(text.key, pad, text_w, s);
    const int key_lines = key.empty() ? 0 : key.back().line + 1;

    // The colour bar runs between margins wide enough to centre its end labels on its ends.
    int margin = pad;
    for (const BarTick& tick : text.ticks) margin = std::max(margin, pad + text_width(tick.label, s) / 2);
    const int bar_h = text.ticks.empty() ? 0 : kBarRows * s + kTickRows * s + step;

    const int title_h = title.empty() ? 0 : pad + (int)title.size() * step + pad;
    const int footer_h = pad + (int)caption.size() * step + bar_h + key_lines * step + pad;
    RgbImage out = image_blank(width, title_h + body.height + footer_h, kGapColour);

    int y = pad;
    for (const std::string& line : title) draw_text(out, pad, y, line, kTextColour, s), y += step;
    image_paste(out, body, (width - body.width) / 2, title_h);

    y = title_h + body.height + pad;
    for (const std::string& line : caption) draw_text(out, pad, y, line, kTextColour, s), y += step;
    if (!text.ticks.empty()) {
        const int bar_x = margin, bar_w = width - 2 * margin;
        for (int x = 0; x < bar_w; x++)
            rect_fill(out, bar_x + x, y, 1, kBarRows * s, heat_colour(bar_w > 1 ? (float)x / (bar_w - 1) : 1.0f));
        const int tick_y = y + kBarRows * s, label_y = tick_y + kTickRows * s;
        // Ticks in the order given; a label that would touch one already drawn is left out.
        std::vector<std::pair<int, int>> taken;
        for (const BarTick& tick : text.ticks) {
            const int x = bar_x + (int)(std::min(1.0f, std::max(0.0f, tick.at)) * (bar_w - 1) + 0.5f);
            const int w = text_width(tick.label, s), left = x - w / 2;
            bool clash = false;
            for (const auto& t : taken) clash |= left < t.second + s * kCellWidth && left + w + s * kCellWidth > t.first;
            if (clash) continue;
            taken.push_back({left, left + w});
            rect_fill(out, x - s / 2, tick_y, s, kTickRows * s - s, kTextColour);
            draw_text(out, left + s / 2, label_y, tick.label, kTextColour, s);  // the blank column is on the right
        }
        y += bar_h;
    }
    const int box = text_height(s) - s;  // the glyph height: squares line up with capitals
    for (size_t i = 0; i < key.size(); i++) {
        const KeySwatch& item = text.key[i];
        const int x = key[i].x, ky = y + key[i].line * step;
        if (item.outline) {
            rect_fill(out, x, ky, box, box, {0, 0, 0});
            const int t = std::max(2, s);
            rect_fill(out, x, ky, box, t, item.colour), rect_fill(out, x, ky + box - t, box, t, item.colour);
            rect_fill(out, x, ky, t, box, item.colour), rect_fill(out, x + box - t, ky, t, box, item.colour);
        } else {
            rect_fill(out, x, ky, box, box, kTextColour);  // a frame, so a white or black swatch still shows
            rect_fill(out, x + 1, ky + 1, box - 2, box - 2, item.colour);
        }
        draw_text(out, x + text_height(s), ky, " " + item.label, kTextColour, s);
    }
    return out;
}

void panel_label(RgbImage& panel, const std::string& full_label) {
    // A margin of 2 font pixels round the ink: the cell's own blank column is on the right.
    const auto box_width = [](const std::string& text, int s) { return text_width(text, s) + 3 * s; };
    const size_t space = full_label.find_last_of(' ');
    const bool too_wide = box_width(full_label, 1) > panel.width / 2 && space != std::string::npos;
    const std::string label = too_wide ? full_label.substr(space + 1) : full_label;
    const int s = box_width(label, 2) <= panel.width / 2 ? 2 : 1;
    rect_fill(panel, 0, 0, box_width(label, s), (kGlyphHeight + 4) * s, kLabelBox);
    draw_text(panel, 2 * s, 2 * s, label, kLabelText, s);
}

RgbImage panel_note_append(const RgbImage& panel, Rgb swatch, const std::string& note, int gap) {
    const int s = figure_text_scale(panel.width) == 2 && text_width(note, 2) + 24 <= panel.width ? 2 : 1;
    const int h = text_height(s) + s;
    RgbImage out = image_blank(panel.width, panel.height + gap + h, kGapColour);
    image_paste(out, panel, 0, 0);
    const int y = panel.height + gap, box = h;
    rect_fill(out, 0, y, box, box, kTextColour);
    rect_fill(out, s, y + s, box - 2 * s, box - 2 * s, swatch);
    draw_text(out, box, y + s, " " + text_shorten(note, panel.width - box - text_width(" ", s), s), kTextColour, s);
    return out;
}

}  // namespace sparsifiner
