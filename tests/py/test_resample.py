"""resample_bicubic_f32 (image/resample.cpp, via tests/tools/resample_dump) against
torch.nn.functional.interpolate(mode="bicubic", align_corners=False, antialias=True), which is how
pos_embed is resized for other input sizes (SPEC 1). Covers growing (where torch's antialias path
still uses a = -0.5, unlike its plain bicubic's -0.75), shrinking, non-square and one-sided cases.
Run: SPARSIFINER_BUILD_DIR=build /usr/bin/python3 tests/py/test_resample.py
(or RESAMPLE_DUMP=/path/to/resample_dump).
"""
import glob
import os
import subprocess
import sys
import unittest

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SOURCE_DIR, find_tool, TempDirTestCase  # noqa: E402


TOOL = find_tool("resample_dump", "RESAMPLE_DUMP")


class ResampleF32(TempDirTestCase):
    def ours(self, x, out_h, out_w):
        c, in_h, in_w = x.shape
        src = os.path.join(self.tmp.name, "in.f32")
        dst = os.path.join(self.tmp.name, "out.f32")
        x.astype("<f4").tofile(src)
        subprocess.run([TOOL, src, str(c), str(in_h), str(in_w), str(out_h), str(out_w), dst],
                       check=True)
        out = np.fromfile(dst, dtype="<f4")
        self.assertEqual(out.size, c * out_h * out_w)
        return out.reshape(c, out_h, out_w)

    @staticmethod
    def torch_reference(x, out_h, out_w):
        t = torch.from_numpy(x).unsqueeze(0)
        y = F.interpolate(t, size=(out_h, out_w), mode="bicubic", align_corners=False, antialias=True)
        return y.squeeze(0).numpy()

    def test_against_torch(self):
        rng = np.random.default_rng(0)
        cases = [(14, 14, 24, 24), (14, 14, 7, 7), (24, 24, 14, 14), (14, 14, 32, 32),
                 (14, 14, 14, 14), (12, 20, 30, 9), (14, 14, 14, 21), (5, 3, 1, 1), (1, 1, 4, 6),
                 (37, 11, 8, 40)]
        for in_h, in_w, out_h, out_w in cases:
            with self.subTest(src=(in_h, in_w), dst=(out_h, out_w)):
                # pos_embed-like values: a smooth field plus noise, 192 channels like DeiT-Ti.
                x = rng.standard_normal((192, in_h, in_w)).astype(np.float32) * 0.05
                x += np.linspace(-1, 1, in_w, dtype=np.float32)[None, None, :]
                ours = self.ours(x, out_h, out_w)
                ref = self.torch_reference(x, out_h, out_w)
                self.assertLess(float(np.abs(ours - ref).max()), 1e-5)

    def test_identity_and_constants(self):
        x = np.random.default_rng(1).standard_normal((3, 9, 13)).astype(np.float32)
        np.testing.assert_array_equal(self.ours(x, 9, 13), x)
        const = np.full((2, 14, 14), 0.37, dtype=np.float32)
        for h, w in [(24, 24), (7, 7), (3, 30)]:
            np.testing.assert_allclose(self.ours(const, h, w), 0.37, atol=1e-6)

    def test_growing_uses_a_minus_half(self):
        # Guards the kernel choice on its own: an impulse grown 4x shows the negative lobe of
        # a = -0.5, which torch's antialias path shares (its non-antialiased bicubic uses -0.75).
        x = np.zeros((1, 1, 8), dtype=np.float32)
        x[0, 0, 4] = 1.0
        ours = self.ours(x, 1, 32)[0, 0]
        ref = self.torch_reference(x, 1, 32)[0, 0]
        plain = F.interpolate(torch.from_numpy(x).unsqueeze(0), size=(1, 32), mode="bicubic",
                              align_corners=False).numpy()[0, 0, 0]
        self.assertLess(float(np.abs(ours - ref).max()), 1e-6)
        self.assertGreater(float(np.abs(ours - plain).max()), 1e-3)
        # Worked by hand: output 23 sits at (23 + 0.5) / 4 - 0.5 = 5.375 in input pixels, 1.375 from
        # the impulse; the whole window (inputs 4..7) is inside, so no renormalisation, and the
        # value is the Keys kernel a(x^3 - 5x^2 + 8x - 4) at x = 1.375, a = -0.5: -0.0732421875.
        self.assertAlmostEqual(float(ours[23]), -0.0732421875, delta=1e-6)

if __name__ == "__main__":
    torch.set_num_threads(1)
    unittest.main(verbosity=2)
