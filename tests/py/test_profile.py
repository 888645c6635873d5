"""sparsifiner profile: MAC totals against SPEC 1 and 5, per-layer values summing to the totals, the
sparse counts against a hand computation, timings present and consistent, --dump-masks."""
import json
import math
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

BIN = os.environ.get("SPARSIFINER_BIN", "")
SOURCE = os.environ.get("SPARSIFINER_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
MAKE_RANDOM = os.path.join(SOURCE, "weights", "make_random_model.py")


def profile(*args, repeat=2, warmup=0):
    result = subprocess.run([BIN, "profile", "--json", "--repeat", str(repeat), "--warmup", str(warmup), *args],
                            capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise AssertionError(result.stderr)
    return json.loads(result.stdout)


@unittest.skipUnless(BIN and os.path.exists(BIN), "SPARSIFINER_BIN not set")
class ProfileTest(unittest.TestCase):
    def test_dense_totals_reproduce_the_spec_table(self):
        # SPEC 1: GMACs at 224 for DeiT-Ti / S / B; SPEC 5: DeiT-S has 0.358 G of q k + p v.
        for arch, gmacs in (("deit_tiny", 1.254), ("deit_small", 4.599), ("deit_base", 17.564)):
            doc = profile("--arch", arch, "--random-weights")
            macs = doc["totals"]["macs"]
            self.assertEqual(round(macs["total"] / 1e9, 3), gmacs, arch)
            self.assertEqual(macs["total"], macs["dense_total"])
            layer_sum = sum(layer["macs"]["total"] for layer in doc["layers"])
            self.assertAlmostEqual(layer_sum + doc["patch_embed"]["macs"] + doc["head"]["macs"], macs["total"],
                                   delta=1e-6 * macs["total"])
            if arch == "deit_small":
                self.assertEqual(round(macs["mhsa"] / 1e9, 3), 0.358)
                # fvcore's convention also counts LayerNorm, 5 per element: 4.608 G for DeiT-S.
                self.assertEqual(round(macs["total_with_layernorm"] / 1e9, 3), 4.608)
            # 25 LayerNorms (2 per block + the final one) over all 197 tokens.
            D = {"deit_tiny": 192, "deit_small": 384, "deit_base": 768}[arch]
            self.assertEqual(macs["layernorm_elements"], 25 * 197 * D)
            self.assertEqual(macs["total_with_layernorm"], macs["total"] + 5 * macs["layernorm_elements"])
            self.assertEqual(macs["dense_total_with_layernorm"], macs["total_with_layernorm"])
            layer_ln = sum(layer["elementwise"]["layernorm"] for layer in doc["layers"])
            self.assertEqual(macs["layernorm_elements"], layer_ln + 197 * D)

    def test_sparse_layer_counts_by_hand(self):
        # DeiT-Ti at 64 px: T = 17 tokens, D = 192, H = 3; window masks at keep 0.25 keep
        # k = ceil(0.25 * 17) = 5 keys per non-cls row; the cls row attends to all 17.
        doc = profile("--arch", "deit_tiny", "--img-size", "64", "--random-weights", "--mask", "window",
                      "--keep-rate", "0.25")
        T, D, k = 17, 192, 5
        for layer in doc["layers"]:
            self.assertEqual(layer["kept_keys"], k)
            self.assertEqual(layer["macs"]["qk"], D * (T + (T - 1) * k))
            self.assertEqual(layer["macs"]["pv"], D * (T + (T - 1) * k))
            self.assertEqual(layer["macs"]["predictor"], 0)
            self.assertAlmostEqual(layer["density"], (T + (T - 1) * k) / T ** 2)
            self.assertEqual(layer["macs"]["qkv"], T * D * 3 * D)

    def test_learned_layer_predictor_products_by_hand(self):
        # A Sparsifiner of 2 blocks, D = 128, H = 2 (d = 64), 32 px in patches of 8: N = T = 17
        # tokens; reduce factors 2 and 2 give c = 32 and K = 8, and 4 coefficients are kept. Every
        # proj_back_n entry is 0.5 (above the 0.02 threshold), so every basis row holds N non-zeros.
        sys.path.insert(0, os.path.join(SOURCE, "tests", "reference"))
        import sparsifiner_ref
        config = sparsifiner_ref.sparsifiner_config(
            sparsifiner_ref.custom_config(128, 2, 2, img_size=32, patch_size=8),
            reduce_n_factor=2, reduce_c_factor=2, basis_coef_topk=4)
        state = sparsifiner_ref.random_sparsifiner_state(config, seed=3)
        for i in range(config["depth"]):
            state["blocks.%d.attn.mask_predictor.proj_back_n" % i] = np.full((17, 8), 0.5, np.float32)
        T, D, H, d, c, K, top, k = 17, 128, 2, 64, 32, 8, 4, math.ceil(0.25 * 17)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "small.safetensors")
            sparsifiner_ref.write_sparsifiner_model(path, state, config)
            doc = profile("-m", path, "--mask", "learned", "--keep-rate", "0.25")
        for layer in doc["layers"]:
            products = layer["macs"]["predictor_products"]
            self.assertEqual(products["qc"], H * T * d * c)            # q Wq^T per head
            self.assertEqual(products["kc"], H * T * d * c)            # k Wk^T
            self.assertEqual(products["kl"], H * c * T * K)            # kc^T proj_n
            self.assertEqual(products["cheap"], H * (T - 1) * c * K)   # qc kl, cls row dropped
            self.assertEqual(products["coef_basis"], H * (T - 1) * top * T)  # 4 dense basis rows per row
            self.assertEqual(layer["macs"]["predictor"], sum(products.values()))
            self.assertEqual(layer["macs"]["qk"], D * (T + (T - 1) * k))
            self.assertEqual(layer["kept_keys"], k)
            self.assertAlmostEqual(layer["predictor"]["basis_density"], 1.0)

    def test_keep_rate_lowers_macs_monotonically_and_timings_add_up(self):
        totals = []
        for rate in ("1.0", "0.5", "0.25", "0.1"):
            doc = profile("--arch", "deit_tiny", "--random-weights", "--sparsifiner", "--mask", "learned",
                          "--keep-rate", rate)
            totals.append(doc["totals"]["macs"]["mhsa"])
            latency = doc["totals"]["latency_ms"]
            self.assertGreater(latency["median"], 0)
            self.assertGreater(latency["sum_of_op_medians"], 0)
            # The op timers measure parts of the timed pass: their sum cannot exceed it much.
            self.assertLessEqual(latency["sum_of_op_medians"], latency["with_op_timers_median"] * 1.05)
            self.assertIn("predictor", doc["layers"][0])
        self.assertEqual(totals, sorted(totals, reverse=True))
        self.assertLess(totals[-1], totals[0])

    def test_pruning_and_dump_masks(self):
        with tempfile.TemporaryDirectory() as tmp:
            model = os.path.join(tmp, "spars.safetensors")
            subprocess.run([sys.executable, MAKE_RANDOM, "--arch", "deit_tiny", "--sparsifiner", "--seed", "2",
                            "-o", model], check=True)
            masks = os.path.join(tmp, "masks")
            doc = profile("-m", model, "--prune-at", "3,6,9", "--token-keep", "0.7", "--dump-masks", masks)
            alive = [layer["tokens_in"] for layer in doc["layers"]]
            expected = [197] * 4 + [1 + math.ceil(0.7 * 196)] * 3 + [1 + math.ceil(0.49 * 196)] * 3 + \
                       [1 + math.ceil(0.343 * 196)] * 2
            self.assertEqual(alive, expected)
            # The official budget (SPEC 3): ceil(0.25 x 197) = 50 keys per row in every block, also
            # after pruning; the attention MACs follow (the cls row dense).
            self.assertEqual([layer["kept_keys"] for layer in doc["layers"]], [50] * 12)
            for layer, T in zip(doc["layers"], expected):
                self.assertEqual(layer["macs"]["qk"], 192 * (T + (T - 1) * 50))
            # Pruned tokens leave the LayerNorms too: LN1 on the tokens in, LN2 on the tokens out,
            # the final one on the 69 left.
            tokens_out = expected[1:] + [expected[-1]]  # a block's tokens out: the next block's in
            ln = sum((t_in + t_out) * 192 for t_in, t_out in zip(expected, tokens_out)) + expected[-1] * 192
            self.assertEqual(doc["totals"]["macs"]["layernorm_elements"], ln)
            keys = np.load(os.path.join(masks, "block_5_keys.npy"))
            tokens = np.load(os.path.join(masks, "block_5_tokens.npy"))
            self.assertEqual(tokens.shape, (1, expected[5]))
            self.assertEqual(keys.shape, (1, 3, expected[5] - 1, doc["layers"][5]["kept_keys"]))
            self.assertTrue((np.diff(keys, axis=-1) > 0).all())  # ascending, distinct


if __name__ == "__main__":
    unittest.main()
