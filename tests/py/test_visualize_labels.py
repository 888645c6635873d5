"""`sparsifiner visualize`: the words in the pictures (issue 17). Every picture has a title strip
naming what was drawn, a colour bar with tick labels under a caption when the colour is heat,
numbered panels for --grid, --tokens and --basis, at least 256 px on the short side, and the same
bytes for the same input. Pictures are read with PIL; tests/py/figure_layout.py says where the
strips are. Runs on the bundled Fashion-MNIST Sparsifiner model (28 px crops, 2 heads, 6 blocks).
"""
import os
import sys
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, SOURCE_DIR, have_binary, sparsifiner, TempDirTestCase  # noqa: E402
from figure_layout import TEXT, body_origin, colour_bar, load_rgb, text_pixels  # noqa: E402

SAMPLE = os.path.join(SOURCE_DIR, "datasets", "samples", "0000_ankle-boot.png")
PANEL = 280  # the 28 px crop at the default upscale of 10
MODES = {
    "query": ["--layer", "1", "--head", "0", "--query", "5"],
    "grid": ["--layer", "1", "--grid"],
    "tokens": ["--prune-at", "1,3", "--token-keep", "0.7", "--tokens"],
    "basis": ["--basis", "--layer", "1"],
}


@unittest.skipUnless(have_binary(), "SPARSIFINER_BIN not set")
class VisualizeLabelsTest(TempDirTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pictures = {mode: cls.draw(mode, *args) for mode, args in MODES.items()}

    @classmethod
    def draw(cls, name, *args):
        path = os.path.join(cls.tmp.name, name + ".png")
        image = [] if "--basis" in args else [SAMPLE]
        sparsifiner(["visualize", *image, *args, "-o", path])
        return path

    def body_width(self, mode, picture):
        return PANEL if mode == "query" else picture.shape[1]

    def test_every_picture_has_a_title_strip_and_a_readable_size(self):
        for mode, path in self.pictures.items():
            picture = load_rgb(path)
            self.assertGreaterEqual(min(picture.shape[:2]), 256, mode)
            _, top = body_origin(picture, self.body_width(mode, picture))
            self.assertGreater(top, 20, f"{mode}: no title strip above the panels")
            self.assertGreater(text_pixels(picture[:top]), 300, f"{mode}: no text in the title strip")

    def test_the_title_follows_the_settings_and_the_bytes_are_stable(self):
        def title(*args):
            picture = load_rgb(self.draw("title", *args))
            _, top = body_origin(picture, PANEL)
            return picture[:top]

        layer1 = title(*MODES["query"])
        self.assertTrue(np.array_equal(layer1, title(*MODES["query"])))
        layer2 = title("--layer", "2", "--head", "0", "--query", "5")
        self.assertFalse(np.array_equal(layer1, layer2), "--layer 1 and --layer 2 give the same title")
        oracle = title(*MODES["query"], "--mask", "oracle")
        self.assertFalse(np.array_equal(layer1, oracle), "the mask source is not in the title")
        # Same input, same bytes.
        with open(self.draw("again", *MODES["grid"]), "rb") as a, open(self.pictures["grid"], "rb") as b:
            self.assertEqual(a.read(), b.read())

    def test_heat_pictures_have_a_colour_bar_with_tick_labels_and_a_caption(self):
        for mode in ("query", "grid", "basis"):
            picture = load_rgb(self.pictures[mode])
            x0, top = body_origin(picture, self.body_width(mode, picture))
            bar = colour_bar(picture[top:])
            self.assertIsNotNone(bar, f"{mode}: no colour bar")
            y, left, right = bar
            y += top
            # The caption's last line (16 px high at text scale 2) right above the bar.
            self.assertGreater(text_pixels(picture[y - 24:y]), 150, f"{mode}: no caption above the bar")
            # Tick labels under the bar: the "0" centred on its left end, the "1" on its right end.
            labels = picture[y + 1:y + 60]
            for end in (left, right):
                self.assertGreater(text_pixels(labels[:, end - 8:end + 9]), 10, f"{mode}: no tick label at x {end}")
            middle = labels[:, left + (right - left) // 4:right - (right - left) // 4]
            self.assertGreater(text_pixels(middle), 10, f"{mode}: no tick label between the ends")
        # --tokens draws no heat: no colour bar, but a caption and a key.
        picture = load_rgb(self.pictures["tokens"])
        self.assertIsNone(colour_bar(picture))
        _, top = body_origin(picture, picture.shape[1])
        self.assertGreater(text_pixels(picture[top + PANEL:]), 300)

    def label_regions(self, path, panels, width=PANEL):
        """The top-left corner of each panel (the label box of scale 2: 22 px high)."""
        picture = load_rgb(path)
        x0, top = body_origin(picture, picture.shape[1])
        return [picture[top:top + 22, x0 + i * (width + 2):x0 + i * (width + 2) + 100] for i in range(panels)]

    def assert_numbered(self, regions, what):
        for region in regions:
            self.assertGreater(int(np.sum(np.all(region == 255, axis=-1))), 20, f"{what}: no white label text")
            self.assertGreater(int(np.sum(np.all(region == 0, axis=-1))), 100, f"{what}: no label box")
            self.assertEqual(text_pixels(region), 0)
        for a in range(len(regions)):
            for b in range(a + 1, len(regions)):
                self.assertFalse(np.array_equal(regions[a], regions[b]), f"{what}: panels {a} and {b} have one label")

    def test_panels_are_numbered(self):
        self.assert_numbered(self.label_regions(self.pictures["grid"], 2), "--grid")
        self.assert_numbered(self.label_regions(self.pictures["tokens"], 3), "--tokens")
        # --basis: 112 px panels (7 patches of 16 px, no photo), numbered by basis row.
        self.assert_numbered([r[:, :40] for r in self.label_regions(self.pictures["basis"], 8, 112)], "--basis")


if __name__ == "__main__":
    unittest.main()
