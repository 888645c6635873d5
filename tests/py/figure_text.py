"""Reading the words of a `sparsifiner visualize` picture back, with the glyphs of
cli/visualize_font.cpp: a test can then say which words a title, a tick or a panel label holds,
not only that some text pixels are there. Layout constants mirror cli/visualize_figure.cpp: text
scale s = 2 for figures at least 240 px wide, 6 x 8 font px cells, lines 10 font px apart, title
lines from (4 s, 4 s); a panel label is white on a black box, its text from (2 s, 2 s).
"""
import os
import re

import numpy as np

from harness import SOURCE_DIR
from figure_layout import TEXT, colour_bar

CELL_W, CELL_H, LINE, PAD = 6, 8, 10, 4   # font px
BAR_ROWS, TICK_ROWS = 8, 3
LABEL_INK = (255, 255, 255)


def _glyphs():
    source = open(os.path.join(SOURCE_DIR, "cli", "visualize_font.cpp")).read()
    rows = re.findall(r"\{((?:0x[0-9A-Fa-f]{2},\s*){7}0x[0-9A-Fa-f]{2})\}", source)
    assert len(rows) == 95, len(rows)
    bitmaps = {}
    for code, row in enumerate(rows, start=32):
        values = [int(v, 16) for v in row.split(",")]
        bitmaps[chr(code)] = np.array([[(v >> (4 - x)) & 1 for x in range(5)] for v in values], bool)
    return bitmaps


BITMAPS = _glyphs()
GLYPHS = {bitmap.tobytes(): ch for ch, bitmap in BITMAPS.items()}


def text_scale(picture):
    return 2 if picture.shape[1] >= 240 else 1


def ink_mask(picture, colour=TEXT):
    return np.all(picture == np.array(colour), axis=-1)


def read_cell(ink, x, y, s):
    """The character whose glyph is drawn at (x, y) at scale s, '' when the cell is no glyph."""
    cell = ink[y:y + CELL_H * s:s, x:x + 5 * s:s]
    if cell.shape != (CELL_H, 5):
        return ""
    return GLYPHS.get(cell.astype(bool).tobytes(), "")


def read_line(ink, x, y, s):
    """Characters on the cell grid from (x, y) to the first cell that is no glyph; trailing
    spaces dropped."""
    text = ""
    while True:
        ch = read_cell(ink, x, y, s)
        if not ch:
            return text.rstrip()
        text += ch
        x += CELL_W * s


def title_lines(picture):
    s = text_scale(picture)
    ink = ink_mask(picture)
    lines, y = [], PAD * s
    while True:
        line = read_line(ink, PAD * s, y, s)
        if not line:
            return lines
        lines.append(line)
        y += LINE * s


def title_text(picture):
    """The title lines joined with spaces (a phrase broken across lines reads whole again)."""
    return " ".join(title_lines(picture))


def panel_label(panel):
    """The text on the black box in the panel's top-left corner, at whichever scale it was drawn."""
    ink = ink_mask(panel, LABEL_INK)
    for s in (2, 1):
        if np.all(panel[:2 * s, :2 * s] == 0):
            text = read_line(ink, 2 * s, 2 * s, s)
            if text:
                return text
    return ""


def text_mask(text, s):
    mask = np.zeros((CELL_H * s, CELL_W * s * len(text)), bool)
    for i, ch in enumerate(text):
        mask[:, i * CELL_W * s:i * CELL_W * s + 5 * s] = np.kron(BITMAPS[ch], np.ones((s, s), bool))
    return mask


def tick_labels(picture):
    """The tick labels under the colour bar, left to right, read by matching each candidate text."""
    s = text_scale(picture)
    y_bar, _, _ = colour_bar(picture)
    y = y_bar + (BAR_ROWS + TICK_ROWS) * s
    ink = ink_mask(picture)
    band = ink[y:y + CELL_H * s]
    found = []
    # Labels are runs of ink columns separated by at least one blank cell.
    columns = band.any(axis=0)
    x = 0
    while x < len(columns):
        if not columns[x]:
            x += 1
            continue
        end = x
        while end < len(columns) and columns[end:end + CELL_W * s].any():
            end += 1
        # The run starts at the first inked column, which is not always the cell's first ('1').
        for start in range(x, x - 5 * s, -1):
            text = read_line(ink, start, y, s)
            width = len(text) * CELL_W * s
            if text and np.array_equal(band[:, start:start + width], text_mask(text, s)[:, :band.shape[1] - start]):
                found.append((start, text))
                break
        else:
            found.append((x, ""))
        x = end
    return found
