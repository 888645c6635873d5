"""Tests of weights/make_random_model.py: determinism, tensor names and shapes against the tables
of SPEC sections 1 and 2 (written out here independently), metadata, initialisation, speed.
Run: SPARSIFINER_SOURCE_DIR=/work/main /usr/bin/python3 tests/py/test_make_random_model.py
"""
import math
import os
import subprocess
import sys
import tempfile
import time
import unittest

import numpy as np

SOURCE_DIR = os.environ.get("SPARSIFINER_SOURCE_DIR",
                            os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
WEIGHTS_DIR = os.path.join(SOURCE_DIR, "weights")
MAKE = os.path.join(WEIGHTS_DIR, "make_random_model.py")
sys.path.insert(0, WEIGHTS_DIR)
from safetensors_io import BF16, bf16_to_f32, read_safetensors  # noqa: E402

# SPEC section 1: D, H, depth, MLP hidden.
SPEC_TABLE = {"deit_tiny": (192, 3, 12, 768), "deit_small": (384, 6, 12, 1536),
              "deit_base": (768, 12, 12, 3072)}


def expected_shapes(arch, distilled=False, sparsifiner=False, img=224, classes=1000):
    D, H, depth, hidden = SPEC_TABLE[arch]
    N = (img // 16) ** 2 + (2 if distilled else 1)
    d = D // H
    c, K = d // 2, N // 6  # default reduce factors 2 and 6
    shapes = {"cls_token": (1, 1, D), "pos_embed": (1, N, D),
              "patch_embed.proj.weight": (D, 3, 16, 16), "patch_embed.proj.bias": (D,),
              "norm.weight": (D,), "norm.bias": (D,), "head.weight": (classes, D),
              "head.bias": (classes,)}
    if distilled:
        shapes.update({"dist_token": (1, 1, D), "head_dist.weight": (classes, D),
                       "head_dist.bias": (classes,)})
    for i in range(depth):
        b = f"blocks.{i}."
        shapes.update({b + "norm1.weight": (D,), b + "norm1.bias": (D,), b + "norm2.weight": (D,),
                       b + "norm2.bias": (D,), b + "attn.qkv.weight": (3 * D, D),
                       b + "attn.qkv.bias": (3 * D,), b + "attn.proj.weight": (D, D),
                       b + "attn.proj.bias": (D,), b + "mlp.fc1.weight": (hidden, D),
                       b + "mlp.fc1.bias": (hidden,), b + "mlp.fc2.weight": (D, hidden),
                       b + "mlp.fc2.bias": (D,)})
        if sparsifiner:
            m = b + "attn.mask_predictor."
            shapes.update({m + "proj_c_q.weight": (c, d), m + "proj_c_q.bias": (c,),
                           m + "proj_c_k.weight": (c, d), m + "proj_c_k.bias": (c,),
                           m + "proj_n": (N, K), m + "proj_back_n": (N, K)})
    return shapes


class TestMakeRandomModel(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="random_model_test_")

    def tearDown(self):
        self.tmp.cleanup()

    def make(self, name, *flags):
        out = os.path.join(self.tmp.name, name)
        proc = subprocess.run([sys.executable, MAKE, *flags, "-o", out], capture_output=True,
                              text=True, timeout=300)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return out

    def read_bytes(self, path):
        with open(path, "rb") as f:
            return f.read()

    def check_shapes(self, path, shapes):
        tensors, meta = read_safetensors(path)
        self.assertEqual(sorted(tensors), sorted(shapes))
        for name, shape in shapes.items():
            self.assertEqual(tuple(tensors[name].shape), shape, name)
        return tensors, meta

    def test_default_model_is_fast_and_deterministic(self):
        start = time.monotonic()
        first = self.make("a.safetensors", "--arch", "deit_tiny", "--seed", "0")
        elapsed = time.monotonic() - start
        self.assertLess(elapsed, 5.0, "the build generates this model: keep it under 5 s")
        second = self.make("b.safetensors", "--arch", "deit_tiny", "--seed", "0")
        other = self.make("c.safetensors", "--arch", "deit_tiny", "--seed", "1")
        self.assertEqual(self.read_bytes(first), self.read_bytes(second))
        self.assertNotEqual(self.read_bytes(first), self.read_bytes(other))
        tensors, meta = self.check_shapes(first, expected_shapes("deit_tiny"))
        expected = {"embed_dim": "192", "num_heads": "3", "depth": "12", "mlp_hidden": "768",
                    "patch_size": "16", "img_size": "224", "num_classes": "1000",
                    "distilled": "false", "sparsifiner": "false", "label_set": "imagenet1k",
                    "seed": "0", "untrained": "true", "format": "sparsifiner-deit"}
        for key, value in expected.items():
            self.assertEqual(meta.get(key), value, key)
        self.assertIn("untrained", meta["arch"])

    def test_timm_like_initialisation(self):
        tensors, _ = read_safetensors(self.make("t.safetensors", "--arch", "deit_tiny"))
        for name, value in tensors.items():
            self.assertEqual(value.dtype, np.float32, name)
            if name.endswith("norm1.weight") or name == "norm.weight":
                np.testing.assert_array_equal(value, 1.0, err_msg=name)
            elif name.endswith(".bias"):
                np.testing.assert_array_equal(value, 0.0, err_msg=name)
        qkv = tensors["blocks.5.attn.qkv.weight"]
        # A normal of std 0.02 cut at 2 std has std 0.02 * 0.880 and nothing beyond 0.04.
        self.assertLessEqual(np.abs(qkv).max(), 0.04 + 1e-7)
        self.assertAlmostEqual(float(qkv.std()), 0.02 * 0.8796, delta=0.0005)
        self.assertAlmostEqual(float(qkv.mean()), 0.0, delta=0.0005)
        self.assertLess(np.abs(tensors["cls_token"]).max(), 1e-4)

    def test_small_and_base_shapes(self):
        self.check_shapes(self.make("s.safetensors", "--arch", "deit_small"),
                          expected_shapes("deit_small"))
        _, meta = self.check_shapes(self.make("b.safetensors", "--arch", "deit_base",
                                              "--dtype", "f16"), expected_shapes("deit_base"))
        self.assertEqual((meta["num_heads"], meta["embed_dim"]), ("12", "768"))

    def test_distilled_sparsifiner_variant(self):
        path = self.make("ds.safetensors", "--arch", "deit_small", "--distilled", "--sparsifiner")
        tensors, meta = self.check_shapes(path, expected_shapes("deit_small", True, True))
        # 198 tokens: K = floor(198 / 6) = 33, c = 64 / 2 = 32.
        self.assertEqual(tensors["blocks.0.attn.mask_predictor.proj_n"].shape, (198, 33))
        for key, value in {"distilled": "true", "sparsifiner": "true", "keep_rate": "0.25",
                           "basis_coef_topk": "8", "basis_threshold": "0.02",
                           "reduce_c_factor": "2", "reduce_n_factor": "6"}.items():
            self.assertEqual(meta.get(key), value, key)

    def test_sparsifiner_other_size_and_classes(self):
        path = self.make("sp.safetensors", "--arch", "deit_tiny", "--sparsifiner",
                         "--img-size", "96", "--num-classes", "10")
        _, meta = self.check_shapes(path, expected_shapes("deit_tiny", False, True, 96, 10))
        self.assertNotIn("label_set", meta)
        self.assertEqual(meta["img_size"], "96")
        # N = 37 tokens give K = 6 compressed ones: top-k is capped at K (a top-8 of 6 fails).
        self.assertEqual(meta["basis_coef_topk"], "6")

    def test_half_precision_outputs_round_the_f32_model(self):
        f32, _ = read_safetensors(self.make("f.safetensors", "--arch", "deit_tiny", "--seed", "3"))
        f16, _ = read_safetensors(self.make("h.safetensors", "--arch", "deit_tiny", "--seed", "3",
                                            "--dtype", "f16"))
        bf16, _ = read_safetensors(self.make("b.safetensors", "--arch", "deit_tiny", "--seed", "3",
                                             "--dtype", "bf16"))
        for name in ("pos_embed", "blocks.3.mlp.fc1.weight"):
            np.testing.assert_array_equal(f16[name], f32[name].astype(np.float16))
            self.assertEqual(bf16[name].dtype, BF16)
            # bf16 keeps 8 significant bits: rounding error at most half an ulp, 2^-8 relative.
            wide = bf16_to_f32(bf16[name])
            self.assertTrue(np.all(np.abs(wide - f32[name]) <= np.abs(f32[name]) * 2.0 ** -8))

    def test_peaky_sharpens_attention(self):
        plain, _ = read_safetensors(self.make("p.safetensors", "--arch", "deit_tiny"))
        peaky, meta = read_safetensors(self.make("k.safetensors", "--arch", "deit_tiny",
                                                 "--peaky"))
        D, d = 192, 64
        qkv = peaky["blocks.0.attn.qkv.weight"]
        v_std = qkv[2 * D:].std()
        for h in range(3):  # q and k rows of every head scaled by 4..8, v untouched
            for part in range(2):
                ratio = qkv[part * D + h * d: part * D + (h + 1) * d].std() / v_std
                self.assertTrue(3.5 < ratio < 8.5, ratio)
        self.assertGreater(np.abs(peaky["blocks.0.norm1.weight"] - 1).max(), 0.05)
        self.assertGreater(np.abs(peaky["blocks.0.attn.qkv.bias"]).max(), 0.01)
        # The point of --peaky: softmax of q.k over random tokens is far from uniform.
        rng = np.random.default_rng(0)
        x = rng.standard_normal((50, D)).astype(np.float32)

        def max_attention(weights):
            w = weights["blocks.0.attn.qkv.weight"]
            q, k = x @ w[:d].T, x @ w[D:D + d].T
            s = q @ k.T / math.sqrt(d)
            p = np.exp(s - s.max(axis=1, keepdims=True))
            return (p / p.sum(axis=1, keepdims=True)).max(axis=1).mean()

        self.assertLess(max_attention(plain), 0.05)
        self.assertGreater(max_attention(peaky), 0.3)
        self.assertIn("peaky", meta["arch"])

    def test_bad_arguments_exit_non_zero(self):
        out = os.path.join(self.tmp.name, "x.safetensors")
        for flags in (["--arch", "deit_huge"], ["--arch", "deit_tiny", "--img-size", "100"]):
            proc = subprocess.run([sys.executable, MAKE, *flags, "-o", out],
                                  capture_output=True, text=True, timeout=60)
            self.assertEqual(proc.returncode, 2, flags)
            self.assertFalse(os.path.exists(out))


if __name__ == "__main__":
    unittest.main(verbosity=2)
