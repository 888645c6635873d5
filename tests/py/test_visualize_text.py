"""`sparsifiner visualize`: the words in the pictures, read back with the font's own glyphs
(figure_text.py), so that a test fails when a word is missing, wrong or cut, not only when text
pixels are absent (test_visualize_labels.py checks the strips are there). Also: --basis panels are
large enough by default for their numbers, a title phrase too long for a line is wrapped whole,
and a file name outside ASCII shows one '?' per character. The bundled Fashion-MNIST model: 28 px
crops, 7 x 7 patches, 2 heads, 6 blocks, K = 16 basis rows.
"""
import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SOURCE_DIR, have_binary, sparsifiner, TempDirTestCase  # noqa: E402
from figure_layout import body_origin, load_rgb  # noqa: E402
import figure_text as ft  # noqa: E402

SAMPLE = os.path.join(SOURCE_DIR, "datasets", "samples", "0000_ankle-boot.png")
PANEL = 280  # the 28 px crop at the default upscale of 10


@unittest.skipUnless(have_binary(), "SPARSIFINER_BIN not set")
class VisualizeTextTest(TempDirTestCase):
    def draw(self, name, *args, image=SAMPLE):
        path = os.path.join(self.tmp.name, name)
        sparsifiner(["visualize"] + ([image] if image else []) + list(args) + ["-o", path])
        return load_rgb(path)

    def panels(self, picture, count, side, columns=None):
        columns = columns or count
        x0, y0 = body_origin(picture, columns * side + (columns - 1) * 2)
        return [picture[y0 + (i // columns) * (side + 2):y0 + (i // columns) * (side + 2) + side,
                        x0 + (i % columns) * (side + 2):x0 + (i % columns) * (side + 2) + side] for i in range(count)]

    def test_the_title_reads_as_the_settings(self):
        title = ft.title_text(self.draw("q.png", "--layer", "1", "--head", "0", "--query", "5"))
        for words in ("model fashion_sparsifiner", "0000_ankle-boot.png", "layer 1", "head 0",
                      "query 5 (row 0, col 4)", "mask learned", "keep 0.25"):
            self.assertIn(words, title)
        title = ft.title_text(self.draw("w.png", "--mask", "window", "--keep-rate", "0.5", "--layer", "3",
                                        "--head", "1", "--query", "2,6"))
        for words in ("layer 3", "head 1", "query 21 (row 2, col 6)", "mask window", "keep 0.5"):
            self.assertIn(words, title)

    def test_tick_labels_read_in_order(self):
        ticks = [text for _, text in ft.tick_labels(self.draw("t.png", "--layer", "1"))]
        self.assertEqual(ticks, ["0", "0.1", "0.25", "0.5", "1"])
        ticks = [text for _, text in ft.tick_labels(self.draw("tb.png", "--basis", "--layer", "1", image=None))]
        self.assertEqual(ticks[0], "0")
        self.assertEqual(ticks[-1], "1")
        self.assertIn("0.5", ticks)

    def test_panel_numbers_read_back(self):
        grid = self.draw("g.png", "--layer", "1", "--grid")
        self.assertEqual([ft.panel_label(p) for p in self.panels(grid, 2, PANEL)], ["head 0", "head 1"])
        tokens = self.draw("tok.png", "--prune-at", "2,4", "--token-keep", "0.7", "--tokens")
        self.assertEqual([ft.panel_label(p) for p in self.panels(tokens, 3, PANEL)],
                         ["input: 49", "after 2: 35", "after 4: 25"])  # ceil(0.7 * 49), ceil(0.49 * 49)
        basis = self.draw("b.png", "--basis", "--layer", "1", image=None)
        labels = [ft.panel_label(p) for p in self.panels(basis, 16, 112, columns=8)]
        self.assertEqual(labels, [str(k) for k in range(16)])

    def test_basis_panels_with_a_photo_are_at_least_112_px(self):
        # The 28 px crop is upscaled 4x by default (it was 1x: 28 px panels, half hidden by their
        # numbers); an explicit --scale is taken as given.
        basis = self.draw("bp.png", "--basis", "--layer", "1")
        self.assertEqual(basis.shape[1], 8 * 112 + 7 * 2)
        labels = [ft.panel_label(p) for p in self.panels(basis, 16, 112, columns=8)]
        self.assertEqual(labels, [str(k) for k in range(16)])
        small = self.draw("bs.png", "--basis", "--layer", "1", "--scale", "2")
        self.assertEqual(small.shape[1], 8 * 56 + 7 * 2)
        self.assertEqual(ft.panel_label(self.panels(small, 16, 56, columns=8)[9]), "9")

    def test_a_long_title_phrase_is_wrapped_whole(self):
        # A 400 px figure holds 32 characters a line: the basis phrase (43) goes on two lines, and
        # every word of it is still there (it used to be cut to "predictor basis...he 7x7 patches").
        lines = ft.title_lines(self.draw("wrap.png", "--basis", "--layer", "1", "--scale", "1"))
        self.assertTrue(all(len(line) <= 32 for line in lines), lines)
        self.assertIn("predictor basis: 16 rows on the 7x7 patches", " ".join(lines))
        self.assertFalse(any("..." in line for line in lines), lines)

    def test_a_file_name_outside_ascii_shows_one_mark_per_character(self):
        image = os.path.join(self.tmp.name, "bottine_\u00e9t\u00e9_\u9774.png")
        shutil.copy(SAMPLE, image)
        self.assertIn("bottine_?t?_?.png", ft.title_text(self.draw("name.png", "--layer", "1", image=image)))


if __name__ == "__main__":
    unittest.main()
