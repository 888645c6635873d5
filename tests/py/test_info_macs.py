"""`sparsifiner info` on a Sparsifiner file: the MACs of one image at the trained keep rate, against
a hand computation from SPEC 2 and 5 (and, for everything but the data-dependent coef x basis
product, against what `profile` counts on a real pass)."""
import json
import math
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

SOURCE_DIR = os.environ.get("SPARSIFINER_SOURCE_DIR",
                            os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")))
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "reference"))
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "py"))
import deit_ref  # noqa: E402
import sparsifiner_ref as S  # noqa: E402
from test_parity_dense import find_binary  # noqa: E402


def run_json(args):
    proc = subprocess.run([find_binary()] + args + ["--json"], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise AssertionError(proc.stderr)
    return json.loads(proc.stdout)


@unittest.skipIf(find_binary() is None, "SPARSIFINER_BIN not set and no build dir")
class InfoMacsTest(unittest.TestCase):
    def test_trained_keep_rate_macs_by_hand(self):
        # N = 38 tokens (cls, dist, 6x6 patches), D = 64, H = 2, d = 32, c = 16, K = 6, top-3
        # coefficients, keep rate 0.25 -> k = ceil(9.5) = 10 keys per non-cls row.
        config = S.sparsifiner_config(S.custom_config(num_classes=10, embed_dim=64, num_heads=2, depth=4,
                                                      img_size=96, distilled=True), basis_coef_topk=3)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "small.safetensors")
            S.write_sparsifiner_model(path, S.random_sparsifiner_state(config, 5), config, seed=5)
            tensors, _ = deit_ref.load_safetensors(path)
            info = run_json(["info", "-m", path])
            profile = run_json(["profile", "-m", path, "--repeat", "1", "--warmup", "0"])
        N, D, H, d, c, K, topk, hidden, C = 38, 64, 2, 32, 16, 6, 3, 256, 10
        k = math.ceil(0.25 * N)
        nnz = [int((np.abs(np.asarray(tensors["blocks.%d.attn.mask_predictor.proj_back_n" % i])) > 0.02).sum())
               for i in range(4)]
        # Per block: the predictor's qc, kc, kl and cheap products, then coef x basis estimated at
        # top-k basis rows of the mean non-zero count each; q k and p v with the cls row dense.
        predictor_fixed = H * (2 * N * c * d + N * c * K + (N - 1) * c * K)
        coef_basis = [H * (N - 1) * topk * n / K for n in nnz]
        attention = 2 * D * (N + (N - 1) * k)
        others = 4 * (N * D * 3 * D + N * D * D + 2 * N * D * hidden) + 36 * D * 3 * 16 * 16 + 2 * D * C
        mhsa = 4 * (predictor_fixed + attention) + sum(coef_basis)
        # fvcore's convention adds LayerNorm, 5 per element: 2 per block + the final one, all tokens.
        self.assertEqual(info["macs"]["layernorm_elements"], (2 * 4 + 1) * N * D)
        self.assertEqual(info["macs"]["total_with_layernorm"], info["macs"]["total"] + 5 * (2 * 4 + 1) * N * D)
        trained = info["macs"]["trained_keep_rate"]
        self.assertEqual(trained["keep_rate"], 0.25)
        self.assertAlmostEqual(trained["mhsa"], mhsa, delta=4)  # the estimate is rounded per block
        self.assertAlmostEqual(trained["total"], mhsa + others, delta=4)
        # A real pass at the trained plan counts the same, except coef x basis, which depends on
        # the coefficients the image keeps.
        measured_coef_basis = sum(l["macs"]["predictor"] for l in profile["layers"]) - 4 * predictor_fixed
        self.assertEqual(profile["totals"]["macs"]["total"] - measured_coef_basis,
                         mhsa - sum(coef_basis) + others)

if __name__ == "__main__":
    unittest.main()
