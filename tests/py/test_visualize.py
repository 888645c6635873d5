"""`sparsifiner visualize`: the pictures say what the masks say.

Layout facts the tests rely on (documented in cli/visualize_draw.h, cli/visualize_figure.h and
cli/cmd_visualize.cpp): the panels sit under a title strip (tests/py/figure_layout.py finds them); a
panel is the 224 crop upscaled `--scale` times, patch cells of 16*scale px in raster order; a query
panel has a note strip below a 2 px white gap; panels are tiled with 2 px white gaps. The words
around the panels are checked in test_visualize_labels.py.
Kept keys are tinted with a heat ramp; keys not kept and pruned tokens are pure grey (R = G = B);
the query patch is outlined in cyan. Which keys are kept is never taken from the picture's own
code path: it comes from geometry (window mask), from `classify --dump-masks`, or from numpy.
"""
import math
import os
import subprocess
import sys
import unittest

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, SOURCE_DIR as SOURCE, sparsifiner, TempDirTestCase  # noqa: E402
from figure_layout import body, load_rgb  # noqa: E402
sys.path.insert(0, os.path.join(SOURCE, "weights"))
from safetensors_io import read_safetensors  # noqa: E402

MAKE_RANDOM = os.path.join(SOURCE, "weights", "make_random_model.py")
CAT = os.path.join(SOURCE, "datasets", "samples", "photos", "chelsea.png")
GRID, EXTRA, PATCH, HEADS = 14, 1, 16, 3
CYAN = (0, 255, 255)


def run(*args):  # this file checks every exit code itself
    return sparsifiner(args, expect_rc=None)


def cell_interior(picture, patch, scale, x0=0):
    """The pixels of patch cell `patch` (0-based, raster order) inset past any outline."""
    cell = PATCH * scale
    r, c = divmod(patch, GRID)
    inset = 2 * scale + 1
    return picture[r * cell + inset:(r + 1) * cell - inset, x0 + c * cell + inset:x0 + (c + 1) * cell - inset]


def is_grey(pixels):
    return bool(np.all(pixels[..., 0] == pixels[..., 1]) and np.all(pixels[..., 1] == pixels[..., 2]))


def tint(pixels):
    """Mean spread between the largest and smallest channel: 0 for grey."""
    return float(np.mean(pixels.max(axis=-1) - pixels.min(axis=-1)))


def window_keys(query_patch, budget):
    """SPEC 4: cls, then the budget-1 patches nearest on the grid (ties to the lower index)."""
    qr, qc = divmod(query_patch, GRID)
    order = sorted(range(GRID * GRID), key=lambda p: ((p // GRID - qr) ** 2 + (p % GRID - qc) ** 2, p))
    return set(order[:budget - 1])


def white_runs(line):
    """Start indices of runs of pure white in a boolean line."""
    runs, previous = [], False
    for i, white in enumerate(line):
        if white and not previous:
            runs.append(i)
        previous = white
    return runs


@unittest.skipUnless(BIN and os.path.exists(BIN), "SPARSIFINER_BIN not set")
class VisualizeTest(TempDirTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.deit = os.path.join(cls.tmp.name, "deit.safetensors")
        cls.spars = os.path.join(cls.tmp.name, "spars.safetensors")
        subprocess.run([sys.executable, MAKE_RANDOM, "--arch", "deit_tiny", "--seed", "1", "-o", cls.deit], check=True)
        subprocess.run([sys.executable, MAKE_RANDOM, "--arch", "deit_tiny", "--sparsifiner", "--peaky", "--seed", "2",
                        "-o", cls.spars], check=True)

    def out(self, name):
        return os.path.join(self.tmp.name, name)

    def draw(self, *args):
        result = run("visualize", *args)
        self.assertEqual(result.returncode, 0, result.stderr)
        return result

    def assert_one_line_error(self, result, *needles):
        self.assertEqual(result.returncode, 2, result.stderr)
        lines = result.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, result.stderr)
        for needle in needles:
            self.assertIn(needle, lines[0])

    def test_default_scale_makes_small_crops_readable(self):
        # The bundled 28 px model: the default upscale gives at least 256 px (28 x 10 = 280).
        path = self.out("bundled.png")
        sample = os.path.join(SOURCE, "datasets", "samples", "0000_ankle-boot.png")
        self.draw(sample, "--layer", "0", "-o", path)
        picture = load_rgb(path)
        self.assertGreaterEqual(min(picture.shape[:2]), 256)
        panel = body(picture, 280)
        self.assertFalse(np.any(np.all(panel[:280] == 255, axis=-1)), "the 280 px panel is where it should be")

    def test_query_picture_size_and_outline(self):
        path = self.out("window.png")
        for scale in (2, 3):
            self.draw("-m", self.deit, CAT, "--mask", "window", "--layer", "3", "--query", "5,9", "--scale", str(scale),
                      "-o", path)
            side = 224 * scale
            figure = load_rgb(path)
            self.assertEqual(figure.shape[1], max(side, 400))
            picture = body(figure, side)
            self.assertTrue(np.all(picture[side:side + 2] == 255), "a white gap under the panel")
            cell = PATCH * scale
            # The outline runs along all four edges of cell (5, 9), and only there.
            y0, x0 = 5 * cell, 9 * cell
            for y, x in ((y0, x0 + cell // 2), (y0 + cell - 1, x0 + 3), (y0 + cell // 2, x0), (y0 + 7, x0 + cell - 1)):
                self.assertEqual(tuple(picture[y, x]), CYAN, (scale, y, x))
            self.assertNotEqual(tuple(picture[y0 + cell // 2, x0 + cell // 2]), CYAN)
            self.assertNotEqual(tuple(picture[4 * cell + cell // 2, x0 + cell // 2]), CYAN)
        # A token index names the same patch: 1 + 5*14 + 9.
        self.draw("-m", self.deit, CAT, "--mask", "window", "--layer", "3", "--query", str(1 + 5 * GRID + 9),
                  "--scale", "3", "-o", self.out("by_index.png"))
        self.assertTrue(np.array_equal(load_rgb(self.out("by_index.png")), load_rgb(path)))

    def test_window_keys_are_hot_and_the_rest_grey(self):
        path = self.out("window_keys.png")
        query = 3 * GRID + 4
        self.draw("-m", self.deit, CAT, "--mask", "window", "--keep-rate", "0.25", "--layer", "2", "--head", "1",
                  "--query", str(EXTRA + query), "--scale", "2", "-o", path)
        picture = body(load_rgb(path), 224 * 2)
        kept = window_keys(query, math.ceil(0.25 * 197))
        self.assertIn(query, kept)
        for patch in range(GRID * GRID):
            pixels = cell_interior(picture, patch, 2)
            if patch in kept:
                self.assertGreater(tint(pixels), 10, f"kept key {patch} should be tinted")
            else:
                self.assertTrue(is_grey(pixels), f"dropped key {patch} should be grey")
        brightness = lambda ps: np.mean([cell_interior(picture, p, 2).mean() for p in ps])
        self.assertGreater(brightness(kept), brightness(set(range(GRID * GRID)) - kept) + 30)

    def test_learned_keys_match_classify_dump_with_pruning(self):
        flags = ["-m", self.spars, "--mask", "learned", "--keep-rate", "0.2", "--prune-at", "3", "--token-keep", "0.6"]
        dump = self.out("masks")
        result = run("classify", *flags, CAT, "--dump-masks", dump)
        self.assertEqual(result.returncode, 0, result.stderr)
        layer, head = 5, 2
        tokens = np.load(os.path.join(dump, f"block_{layer}_tokens.npy"))[0]
        keys = np.load(os.path.join(dump, f"block_{layer}_keys.npy"))[0, head]
        alive_patches = [int(t) - EXTRA for t in tokens if t >= EXTRA]
        self.assertLess(len(alive_patches), GRID * GRID)
        query_row = len(tokens) // 2  # some surviving patch token
        query = int(tokens[query_row])
        kept = {int(tokens[j]) - EXTRA for j in keys[query_row - 1] if tokens[j] >= EXTRA}
        path = self.out("learned.png")
        self.draw("-m", self.spars, *flags[2:], CAT, "--layer", str(layer), "--head",
                  str(head), "--query", str(query), "--scale", "2", "-o", path)
        picture = body(load_rgb(path), 224 * 2)
        dropped_means, pruned_means = [], []
        for patch in range(GRID * GRID):
            pixels = cell_interior(picture, patch, 2)
            if patch in kept:
                self.assertFalse(is_grey(pixels), f"kept key {patch} should be tinted")
            else:
                self.assertTrue(is_grey(pixels), f"key {patch} not kept should be grey")
                (dropped_means if patch in alive_patches else pruned_means).append(pixels.mean())
        # Pruned tokens are darker still than keys merely not kept.
        self.assertLess(np.mean(pruned_means), np.mean(dropped_means))
        # Asking for a token that was pruned before the layer is a usage error.
        gone = next(p for p in range(GRID * GRID) if p not in alive_patches)
        self.assert_one_line_error(run("visualize", *flags, CAT, "--layer", str(layer), "--query", str(gone + EXTRA),
                                       "-o", path), "pruned")

    def test_heat_follows_attention_probability(self):
        # On a black photo the colour is the heat alone, so the ramp's green (monotonic) orders
        # the keys. The probabilities come from numpy: block input (dumped) -> LN1 -> qkv -> softmax
        # of q.k/sqrt(d) over the kept keys (dumped).
        black = self.out("black.png")
        Image.fromarray(np.zeros((224, 224, 3), np.uint8)).save(black)
        layer, head, query = 4, 1, EXTRA + 7 * GRID + 7
        flags = ["-m", self.spars, "--mask", "learned", "--keep-rate", "0.25"]
        dump_a, dump_m = self.out("acts"), self.out("masks_black")
        result = run("classify", *flags, black, "--dump-activations", dump_a, "--dump-masks", dump_m)
        self.assertEqual(result.returncode, 0, result.stderr)
        x = np.load(os.path.join(dump_a, f"block_{layer - 1}.npy"))[0].astype(np.float64)
        keys = np.load(os.path.join(dump_m, f"block_{layer}_keys.npy"))[0, head, query - 1]
        tensors, _ = read_safetensors(self.spars)
        w = lambda name: tensors[f"blocks.{layer}.{name}"].astype(np.float64)
        xn = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-6) * w("norm1.weight") \
            + w("norm1.bias")
        qkv = xn @ w("attn.qkv.weight").T + w("attn.qkv.bias")
        D = qkv.shape[1] // 3
        d = D // HEADS
        q = qkv[query, head * d:(head + 1) * d]
        k = qkv[keys, D + head * d:D + (head + 1) * d]
        s = k @ q / math.sqrt(d)
        p = np.exp(s - s.max())
        p /= p.sum()
        patch_p = {int(j) - EXTRA: float(pj) for j, pj in zip(keys, p) if j >= EXTRA}

        path = self.out("heat.png")
        self.draw(*flags, black, "--layer", str(layer), "--head", str(head), "--query", str(query), "--scale", "2",
                  "-o", path)
        picture = body(load_rgb(path), 224 * 2)
        green = {patch: cell_interior(picture, patch, 2)[..., 1].mean() for patch in patch_p}
        self.assertEqual(max(green, key=green.get), max(patch_p, key=patch_p.get))
        ranked = sorted(patch_p, key=patch_p.get)
        # Colours are rounded to bytes: keys whose probabilities differ by 5% or more keep their order.
        for a, b in zip(ranked, ranked[1:]):
            if patch_p[b] > 1.05 * patch_p[a]:
                self.assertLess(green[a], green[b], (a, b, patch_p[a], patch_p[b]))

    def test_dense_layer_draws_every_key(self):
        path = self.out("dense.png")
        self.draw("-m", self.deit, CAT, "--layer", "0", "--query", "0", "--scale", "1", "-o", path)
        picture = body(load_rgb(path), 224)
        for patch in range(GRID * GRID):
            self.assertFalse(is_grey(cell_interior(picture, patch, 1)), patch)

    def test_grid_has_one_panel_per_head(self):
        path = self.out("grid.png")
        self.draw("-m", self.spars, CAT, "--layer", "5", "--grid", "--query", "7,7", "--scale", "2", "-o", path)
        figure = load_rgb(path)
        panel = 224 * 2
        self.assertEqual(figure.shape[1], HEADS * panel + (HEADS - 1) * 2)
        picture = body(figure, figure.shape[1])[:panel]
        white_columns = np.all(picture == 255, axis=(0, 2))
        self.assertEqual(white_runs(white_columns), [panel + i * (panel + 2) for i in range(HEADS - 1)])
        for h in range(HEADS):
            x0 = h * (panel + 2)
            self.assertEqual(tuple(picture[7 * 32, x0 + 7 * 32 + 16]), CYAN, h)

    def test_basis_has_one_panel_per_row(self):
        tensors, _ = read_safetensors(self.spars)
        K = tensors["blocks.5.attn.mask_predictor.proj_back_n"].shape[1]
        path = self.out("basis.png")
        result = self.draw("-m", self.spars, "--basis", "--layer", "5", "-o", path)
        self.assertIn(str(K), result.stdout)
        figure = load_rgb(path)
        panel, columns = 224, 8
        rows = (K + columns - 1) // columns
        self.assertEqual(figure.shape[1], columns * panel + 2 * (columns - 1))
        picture = body(figure, figure.shape[1])
        height = rows * panel + 2 * (rows - 1)
        self.assertEqual(white_runs(np.all(picture[:panel] == 255, axis=(0, 2))),
                         [panel + i * (panel + 2) for i in range(columns - 1)])
        self.assertEqual(white_runs(np.all(picture[:height + 1] == 255, axis=(1, 2))),
                         [panel + i * (panel + 2) for i in range(rows)])
        picture = picture[:height]
        # Full rows of panels, except perhaps the last one: count the panels that have content.
        count = 0
        for r in range(rows):
            for c in range(columns):
                tile = picture[r * (panel + 2):r * (panel + 2) + panel, c * (panel + 2):c * (panel + 2) + panel]
                count += tile.size > 0 and not np.all(tile == 255)
        self.assertEqual(count, K)

    def test_basis_map_matches_thresholded_weights(self):
        tensors, meta = read_safetensors(self.spars)
        back = np.abs(tensors["blocks.2.attn.mask_predictor.proj_back_n"].astype(np.float64))
        threshold = float(meta.get("basis_threshold", "0.02"))
        path = self.out("basis2.png")
        self.draw("-m", self.spars, "--basis", "--layer", "2", "-o", path)
        figure = load_rgb(path)
        picture = body(figure, figure.shape[1])
        for k in (0, 9):  # panels (0, 0) and (1, 1) of the 8-wide layout
            r, c = divmod(k, 8)
            tile = picture[r * 226:r * 226 + 224, c * 226:c * 226 + 224]
            # The panel's number sits in a black box in its top-left corner (scale 2: 11*2 px high,
            # 6*2 px a digit plus 3*2): the cells under it are not the map's.
            box_w, box_h = 12 * len(str(k)) + 6, 22
            for patch in range(GRID * GRID):
                pr, pc = divmod(patch, GRID)
                if pr * 16 + 3 < box_h and pc * 16 + 3 < box_w:
                    continue
                on = back[EXTRA + patch, k] > threshold
                pixels = cell_interior(tile, patch, 1)
                self.assertEqual(bool(pixels.max() > 0), on, (k, patch))

    def test_tokens_shows_each_pruning_stage(self):
        path = self.out("tokens.png")
        result = self.draw("-m", self.deit, CAT, "--mask", "oracle", "--prune-at", "3,6", "--token-keep", "0.5",
                           "--tokens", "--scale", "1", "-o", path)
        figure = load_rgb(path)
        self.assertEqual(figure.shape[1], 3 * 224 + 2 * 2)
        picture = body(figure, figure.shape[1])
        # ceil(0.5 * 196) = 98 and ceil(0.25 * 196) = 49 patches survive: the rest are pure grey.
        for stage, survivors in ((1, 98), (2, 49)):
            x0 = stage * 226
            grey = sum(is_grey(cell_interior(picture, p, 1, x0)) for p in range(GRID * GRID))
            self.assertEqual(GRID * GRID - grey, survivors, stage)
        self.assertIn("98", result.stdout)

    def test_bad_arguments_are_one_line_usage_errors(self):
        out = self.out("bad.png")
        base = ["visualize", "-m", self.spars, CAT, "-o", out]
        self.assert_one_line_error(run(*base, "--layer", "12"), "--layer")
        self.assert_one_line_error(run(*base, "--layer", "1", "--head", "3"), "--head")
        self.assert_one_line_error(run(*base, "--layer", "1", "--query", "197"), "--query")
        self.assert_one_line_error(run(*base, "--layer", "1", "--query", "14,0"), "--query")
        self.assert_one_line_error(run(*base, "--layer", "1", "--query", "cat"), "--query")
        self.assert_one_line_error(run(*base), "--layer")
        self.assert_one_line_error(run(*base, "--tokens"), "--tokens")
        self.assert_one_line_error(run(*base, "--layer", "1", "--grid", "--head", "1"))
        self.assert_one_line_error(run("visualize", "-m", self.deit, "--basis", "--layer", "1", "-o", out),
                                   "--basis", "plain DeiT")
        self.assert_one_line_error(run("visualize", "-m", self.spars, "--layer", "1", "-o", out), "image")
        self.assert_one_line_error(run(*base, "--layer", "1", "--scale", "0"), "--scale")
        self.assertFalse(os.path.exists(out))


if __name__ == "__main__":
    unittest.main()
