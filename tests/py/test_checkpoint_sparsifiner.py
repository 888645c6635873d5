"""A Sparsifiner training checkpoint, as the official code saves it, through the whole chain:
torch.save({"model", "model_ema", "optimizer", "args", "epoch"}) -> weights/convert.py ->
`sparsifiner classify`, compared with the float64 reference run on the checkpoint's own
`model` tensors (tests/reference/sparsifiner_ref.py).

What can fail: official key names not recognised, `model_ema` taken instead of `model` (it
holds different weights here, so the logits would move), the Sparsifiner hyper-parameters of
`args` (keep_rate, basis_coef_topk, pruning) not reaching the metadata, and the engine's masks,
token pruning and logits (the same checks as test_parity_sparse.py, strict: the seed is chosen so
that no mask row or pruning choice is a numerical near-tie).

Environment: SPARSIFINER_BIN, SPARSIFINER_SOURCE_DIR, optional SPARSIFINER_KEEP_TMP=1.
"""
import argparse
import json
import os
import subprocess
import sys
import unittest

import numpy as np
import torch

SOURCE_DIR = os.environ.get("SPARSIFINER_SOURCE_DIR",
                            os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")))
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "reference"))
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "py"))
import deit_ref  # noqa: E402
import sparsifiner_ref as S  # noqa: E402
import test_parity_sparse as P  # noqa: E402  (module import: its test classes are not re-run here)

# Geometry: embed 96, 3 heads (d = 32, c = 16), depth 4, 112 px -> 7x7 patches, N = 50, K = 8.
GEOMETRY = dict(embed_dim=96, num_heads=3, depth=4, img_size=112)
KEEP_RATE = 0.375   # not the 0.25 default: it must come from `args`
COEF_TOPK = 4       # not min(8, K) = 8: it must come from `args`
PRUNE_AT = (1, 2)
TOKEN_KEEP = 0.7


class CheckpointSparsifinerTest(P.SparseParityBase):
    def reference_config(self):
        return S.sparsifiner_config(S.custom_config(num_classes=P.NUM_CLASSES, **GEOMETRY),
                                    keep_rate=KEEP_RATE, basis_coef_topk=COEF_TOPK)

    def pick_state(self, config):
        """The first seed whose reference margins (masks and pruning, both images) reach
        5 x AMBIGUOUS_REL, so the comparison can be strict."""
        x = self.pixels(self.images(config["img_size"]))
        for seed in range(300, 400):
            state = S.random_sparsifiner_state(config, seed)
            model = S.Sparsifiner(config).load_state(state)
            model.set_masks("learned", prune_at=PRUNE_AT, token_keep=TOKEN_KEEP)
            with torch.no_grad():
                model.forward_features(x)
            if min(model.min_margins()) >= 5 * P.AMBIGUOUS_REL:
                print("\ncheckpoint model: seed %d, smallest margin %.1e" % (seed, min(model.min_margins())))
                return seed, state, model
        self.fail("no seed without near-ties: widen the search")

    def write_checkpoint(self, path, state, ema_state):
        to_torch = lambda sd: {name: torch.from_numpy(np.array(v)) for name, v in sd.items()}  # noqa: E731
        model_sd = to_torch(state)
        some_param = model_sd["blocks.0.attn.qkv.weight"]
        checkpoint = {
            "model": model_sd,
            "model_ema": to_torch(ema_state),
            "optimizer": {"state": {0: {"step": torch.tensor(10.0), "exp_avg": torch.zeros_like(some_param)}},
                          "param_groups": [{"lr": 1e-4, "weight_decay": 0.05, "params": [0]}]},
            "args": argparse.Namespace(model="sparsifiner_deit_small", keep_rate=KEEP_RATE,
                                       basis_coef_topk=COEF_TOPK, basis_threshold=0.02,
                                       base_rate=TOKEN_KEEP, pruning_loc=list(PRUNE_AT),
                                       input_size=GEOMETRY["img_size"], lr=1e-4, epochs=30),
            "epoch": 3,
        }
        torch.save(checkpoint, path)

    def test_training_checkpoint_converts_and_matches(self):
        config = self.reference_config()
        seed, state, model = self.pick_state(config)
        # Official names (SPEC 1, 2): the reference's names are those, checked here once more.
        self.assertIn("blocks.0.attn.mask_predictor.proj_c_q.weight", state)
        self.assertIn("blocks.3.attn.mask_predictor.proj_back_n", state)
        ema_state = S.random_sparsifiner_state(config, seed + 1000)
        pth = os.path.join(self.tmp, "checkpoint.pth")
        self.write_checkpoint(pth, state, ema_state)

        out = os.path.join(self.tmp, "converted.safetensors")
        proc = subprocess.run([sys.executable, os.path.join(SOURCE_DIR, "weights", "convert.py"), pth, "-o", out,
                               "--print-metadata"], capture_output=True, text=True, timeout=120)
        self.assertEqual(proc.returncode, 0, "convert.py failed:\n" + proc.stderr)
        tensors, metadata = deit_ref.load_safetensors(out)
        print("converter metadata:", json.dumps({k: metadata.get(k) for k in (
            "sparsifiner", "num_heads", "keep_rate", "basis_coef_topk", "prune_at", "token_keep")}))
        self.assertEqual(metadata.get("sparsifiner"), "true")
        self.assertEqual(int(metadata["num_heads"]), GEOMETRY["num_heads"])
        self.assertEqual(float(metadata["keep_rate"]), KEEP_RATE)
        self.assertEqual(int(metadata["basis_coef_topk"]), COEF_TOPK)
        self.assertEqual(metadata.get("prune_at"), ",".join(map(str, PRUNE_AT)))
        self.assertEqual(float(metadata["token_keep"]), TOKEN_KEEP)
        for name in state:
            self.assertTrue(np.array_equal(tensors[name], state[name]), "%s: not the `model` tensor" % name)

        key = ("checkpoint", seed)
        self.models[key] = (out, config, model)
        # No --mask and no --keep-rate: learned masks at the trained keep rate from the metadata.
        # Pruning is passed explicitly so the test does not depend on whether metadata's
        # prune_at is applied by default.
        self.check_case(key, "learned", prune_at=PRUNE_AT, token_keep=TOKEN_KEEP, strict=True,
                        pass_mask_flag=False)


if __name__ == "__main__":
    unittest.main(verbosity=2)
