"""Where things are in a `sparsifiner visualize` picture, read from its pixels (cli/visualize_figure.h):

    title strip   white, dark text (kTextColour 20,20,20), on top
    body          the tiled panels, centred horizontally (the figure is at least 400 px wide)
    footer        white: caption, colour bar (the heat ramp) with tick marks and labels, key

A title row is mostly white (glyphs leave blank columns between them); a body row across the
panels is not: heat, grey and photo pixels are never pure white in a query or basis panel, and a
photo row is seldom half pure white. So the body starts at the first row under the title whose
span over the panels is less than half white.
"""
import numpy as np
from PIL import Image

WHITE = (255, 255, 255)
TEXT = (20, 20, 20)
RAMP_START = (40, 11, 84)     # heat_colour(0)
RAMP_END = (252, 255, 164)    # heat_colour(1)


def load_rgb(path):
    return np.asarray(Image.open(path).convert("RGB")).astype(np.int32)


def white_mask(pixels):
    return np.all(pixels == 255, axis=-1)


def body_origin(picture, body_width):
    """(x0, y0) of the body `body_width` px wide: centred, under the title strip."""
    x0 = (picture.shape[1] - body_width) // 2
    span = white_mask(picture[:, x0:x0 + body_width])
    rows = np.nonzero(span.mean(axis=1) < 0.5)[0]
    assert len(rows), "no body found"
    return x0, int(rows[0])


def body(picture, body_width):
    """The picture from the body's top-left corner down, body_width px wide."""
    x0, y0 = body_origin(picture, body_width)
    return picture[y0:, x0:x0 + body_width]


def text_pixels(region):
    return int(np.sum(np.all(region == TEXT, axis=-1)))


def colour_bar(picture):
    """(y, x_first, x_last) of the first row that runs the heat ramp from RAMP_START to RAMP_END
    over at least half the width, or None."""
    for y in range(picture.shape[0]):
        row = picture[y]
        start = np.nonzero(np.all(np.abs(row - RAMP_START) <= 2, axis=-1))[0]
        end = np.nonzero(np.all(np.abs(row - RAMP_END) <= 2, axis=-1))[0]
        if len(start) and len(end) and end[-1] - start[0] >= picture.shape[1] // 2:
            green = row[start[0]:end[-1] + 1, 1]
            if np.all(np.diff(green) >= 0):  # the ramp's green only rises
                return y, int(start[0]), int(end[-1])
    return None
