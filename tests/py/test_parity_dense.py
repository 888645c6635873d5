"""Dense parity: the sparsifiner CLI against the float64 PyTorch reference (tests/reference/deit_ref.py).

Each case writes a seeded random model with peaky attention, two seeded smooth PNGs at the input
size, runs `sparsifiner classify ... --crop-pct 1.0 --batch 2 --json --logits --dump-activations`,
and compares logits and the hidden state after every block with the reference, printing the max
differences per tensor.

Tolerance: max |engine - reference| <= 2e-5 * max |reference| per tensor (logits and the hidden
state after every block). The same forward done in float32 by torch lands at ~3e-6 of the max
after 12 blocks (test_tolerance_is_reachable_in_float32), so a correct float32 engine has ~7x
headroom. The bound is tighter than the 1e-4 first proposed because 1e-4 catches the tanh GELU
(it moves logits by ~3e-4 of their max) by a margin of only 3x; a wrong head split moves them by
~3e-1 (test_criterion_detects_plausible_bugs).

Environment: SPARSIFINER_BIN (the binary), SPARSIFINER_SOURCE_DIR (the tree), optional
SPARSIFINER_KEEP_TMP=1 to keep the model files and dumps.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SOURCE_DIR, find_binary, remove_temp_dir, run, temp_dir  # noqa: E402,F401
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "reference"))
import deit_ref  # noqa: E402

REL_TOL = 2e-5
NUM_CLASSES = 100  # enough for a meaningful top-1, small enough to keep the files light
CLI_TIMEOUT_S = 300


def smooth_image(size, seed):
    """A seeded random RGB image with only low spatial frequencies: a 6x6 random colour grid
    enlarged with bicubic filtering (values clipped to u8 by PIL)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(6, 6, 3), dtype=np.uint8)
    return Image.fromarray(coarse, "RGB").resize((size, size), Image.BICUBIC)


def parity_images(directory, size):
    """The two seeded smooth PNGs at `size` that every parity case classifies (made once per folder)."""
    paths = []
    for seed in (11, 12):
        path = os.path.join(directory, "img%d_%d.png" % (seed, size))
        if not os.path.exists(path):
            smooth_image(size, seed * 1000 + size).save(path)
        paths.append(path)
    return paths


def max_rel_diff(ref, got):
    ref = np.asarray(ref, dtype=np.float64)
    got = np.asarray(got, dtype=np.float64)
    return float(np.abs(ref - got).max()), float(np.abs(ref).max())


class DenseParityTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = temp_dir("sparsifiner_parity_")
        cls.models = {}  # key -> (path, config, reference model)
        cls.reference_cache = {}

    @classmethod
    def tearDownClass(cls):
        remove_temp_dir(cls.tmp)

    # -- fixtures ---------------------------------------------------------------------------------

    def model(self, arch, distilled, seed):
        key = (arch, distilled, seed)
        if key not in self.models:
            config = deit_ref.deit_config(arch, num_classes=NUM_CLASSES, distilled=distilled)
            state = deit_ref.random_deit_state(config, seed)
            path = os.path.join(self.tmp, "%s%s_seed%d.safetensors" % (arch, "_distilled" if distilled else "", seed))
            deit_ref.write_model(path, state, config, seed=seed)
            # The reference reads the file back, so a writer bug cannot hide behind a shared state.
            tensors, _ = deit_ref.load_safetensors(path)
            self.models[key] = (path, config, deit_ref.DeiT(config).load_state(tensors))
        return self.models[key]

    def images(self, size):
        return parity_images(self.tmp, size)

    def reference(self, key, image_paths):
        """float64 reference logits [2, C] and hidden states [depth][2, T, D] for the images."""
        cache_key = (key, tuple(image_paths))
        if cache_key not in self.reference_cache:
            _, _, model = self.models[key]
            # The pixels as stored in the PNG: with --crop-pct 1.0 at the input size the engine
            # sees exactly these (SPEC 6).
            x = torch.stack([deit_ref.preprocess_pixels(np.array(Image.open(p).convert("RGB")))
                             for p in image_paths])
            with torch.no_grad():
                features, hidden = model.forward_features(x)
                logits = model.head(features)
            self.reference_cache[cache_key] = (logits.numpy(), [h.numpy() for h in hidden])
        return self.reference_cache[cache_key]

    def run_cli(self, model_path, image_paths, img_size, threads, tag):
        binary = find_binary()
        if binary is None:
            self.skipTest("SPARSIFINER_BIN not set and no build dir: nothing to compare")
        self.assertTrue(os.path.exists(binary), "SPARSIFINER_BIN=%s does not exist" % binary)
        dump = os.path.join(self.tmp, "dump_" + tag)
        cmd = [binary, "classify", "-m", model_path] + image_paths + [
            "--crop-pct", "1.0", "--img-size", str(img_size), "--batch", "2",
            "--threads", str(threads), "--json", "--logits", "--dump-activations", dump]
        proc = run(cmd, timeout=CLI_TIMEOUT_S)
        self.assertEqual(proc.returncode, 0, "%s\nexit %d, stderr:\n%s" % (" ".join(cmd), proc.returncode, proc.stderr))
        doc = json.loads(proc.stdout)
        return doc, dump

    # -- comparison -------------------------------------------------------------------------------

    def check_tensor(self, label, ref, got):
        self.assertEqual(tuple(np.shape(got)), tuple(np.shape(ref)), "%s: shape" % label)
        diff, scale = max_rel_diff(ref, got)
        ok = diff <= REL_TOL * scale
        print("  %-28s max|diff| %.3e  max|ref| %8.3f  rel %.2e  %s"
              % (label, diff, scale, diff / scale, "OK" if ok else "FAIL"))
        return ok

    def check_run(self, key, img_size, threads=1):
        model_path, config, _ = self.models[key]
        image_paths = self.images(img_size)
        tag = "%s_%s_%d_t%d" % (key[0], "dist" if key[1] else "plain", img_size, threads)
        print("\n%s at %d, threads %d" % (tag, img_size, threads))
        doc, dump = self.run_cli(model_path, image_paths, img_size, threads, tag)
        ref_logits, ref_hidden = self.reference(key, image_paths)

        self.assertEqual(doc.get("schema_version"), 1)
        self.assertEqual(doc.get("command"), "classify")
        results = doc["results"]
        self.assertEqual([os.path.basename(r["file"]) for r in results],
                         [os.path.basename(p) for p in image_paths], "results not in input order")

        failures = []
        json_logits = np.array([r["logits"] for r in results], dtype=np.float64)
        if not self.check_tensor("logits (json)", ref_logits, json_logits):
            failures.append("logits (json)")
        dumped_logits = np.load(os.path.join(dump, "logits.npy"))
        if not self.check_tensor("logits.npy", ref_logits, dumped_logits):
            failures.append("logits.npy")
        grid = img_size // config["patch_size"]
        tokens = grid * grid + (2 if config["distilled"] else 1)
        for i in range(config["depth"]):
            got = np.load(os.path.join(dump, "block_%d.npy" % i))
            self.assertEqual(got.shape, (2, tokens, config["embed_dim"]), "block_%d.npy shape" % i)
            if not self.check_tensor("block_%d" % i, ref_hidden[i], got):
                failures.append("block_%d" % i)

        for n, result in enumerate(results):
            top1 = int(np.argmax(ref_logits[n]))
            self.assertEqual(result["top"][0]["class"], top1, "%s: top-1 class" % result["file"])
            p = np.exp(ref_logits[n] - ref_logits[n].max())
            self.assertAlmostEqual(result["top"][0]["prob"], float(p.max() / p.sum()), delta=1e-4,
                                   msg="%s: top-1 probability" % result["file"])
        self.assertFalse(failures, "%s: beyond %.0e x max|ref|: %s" % (tag, REL_TOL, ", ".join(failures)))
        return dumped_logits

    # -- the cases --------------------------------------------------------------------------------

    def test_deit_tiny(self):
        key = ("deit_tiny", False, 1)
        self.model(*key)
        self.check_run(key, 224)
        self.check_run(key, 288)  # pos_embed enlarged 14 -> 18

    def test_deit_small(self):
        key = ("deit_small", False, 2)
        self.model(*key)
        self.check_run(key, 224)
        self.check_run(key, 160)  # pos_embed shrunk 14 -> 10 (antialiased)

    def test_deit_tiny_distilled(self):
        key = ("deit_tiny", True, 3)
        self.model(*key)
        self.check_run(key, 224)
        self.check_run(key, 160)  # two extra rows kept while the grid is resized

    def test_threads_agree(self):
        key = ("deit_small", False, 2)
        self.model(*key)
        one = self.check_run(key, 224, threads=1)
        two = self.check_run(key, 224, threads=2)
        diff, scale = max_rel_diff(one, two)
        print("  threads 1 vs 2 logits max|diff| %.3e (rel %.2e)" % (diff, diff / scale))
        self.assertLessEqual(diff, REL_TOL * scale)

    # -- checks of the reference and of the criterion itself (no binary needed) -------------------

    def test_reference_block_matches_torch_encoder_layer(self):
        """One block of deit_ref against torch's own pre-norm TransformerEncoderLayer, whose
        in_proj rows are also ordered [q; k; v] with heads contiguous and whose 'gelu' is erf."""
        config = deit_ref.deit_config("deit_tiny", num_classes=10, depth=1)
        state = deit_ref.random_deit_state(config, 5)
        model = deit_ref.DeiT(config).load_state(state)
        D, H = config["embed_dim"], config["num_heads"]
        layer = torch.nn.TransformerEncoderLayer(D, H, config["mlp_hidden"], dropout=0.0, activation="gelu",
                                                 layer_norm_eps=1e-6, batch_first=True, norm_first=True)
        layer = layer.double().eval()
        t = {k: torch.as_tensor(v, dtype=torch.float64) for k, v in state.items()}
        with torch.no_grad():
            layer.norm1.weight.copy_(t["blocks.0.norm1.weight"]); layer.norm1.bias.copy_(t["blocks.0.norm1.bias"])
            layer.self_attn.in_proj_weight.copy_(t["blocks.0.attn.qkv.weight"])
            layer.self_attn.in_proj_bias.copy_(t["blocks.0.attn.qkv.bias"])
            layer.self_attn.out_proj.weight.copy_(t["blocks.0.attn.proj.weight"])
            layer.self_attn.out_proj.bias.copy_(t["blocks.0.attn.proj.bias"])
            layer.norm2.weight.copy_(t["blocks.0.norm2.weight"]); layer.norm2.bias.copy_(t["blocks.0.norm2.bias"])
            layer.linear1.weight.copy_(t["blocks.0.mlp.fc1.weight"]); layer.linear1.bias.copy_(t["blocks.0.mlp.fc1.bias"])
            layer.linear2.weight.copy_(t["blocks.0.mlp.fc2.weight"]); layer.linear2.bias.copy_(t["blocks.0.mlp.fc2.bias"])
            x = torch.randn(2, 197, D, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
            diff, scale = max_rel_diff(layer(x).numpy(), model.block(0, x).numpy())
        print("\nreference block vs torch TransformerEncoderLayer: max|diff| %.3e" % diff)
        self.assertLessEqual(diff, 1e-10 * scale)

    def test_tolerance_is_reachable_in_float32(self):
        """The same forward in float32 (torch) stays inside the criterion: it is not too strict."""
        key = ("deit_small", False, 2)
        _, config, model = self.model(*key)
        image_paths = self.images(224)
        ref_logits, ref_hidden = self.reference(key, image_paths)
        model32 = deit_ref.DeiT(config, dtype=torch.float32).load_state(
            {k: v.numpy() for k, v in model.w.items()})
        x = torch.stack([deit_ref.preprocess_pixels(np.array(Image.open(p)), dtype=torch.float32)
                         for p in image_paths])
        with torch.no_grad():
            features, hidden = model32.forward_features(x)
            logits = model32.head(features)
        print("\nfloat32 torch vs float64 reference")
        ok = self.check_tensor("logits", ref_logits, logits.numpy())
        ok = self.check_tensor("block_0", ref_hidden[0], hidden[0].numpy()) and ok
        ok = self.check_tensor("block_11", ref_hidden[11], hidden[11].numpy()) and ok
        self.assertTrue(ok)

    def test_engine_error_is_float32_quality(self):
        """Issue 13: the engine's float32 error against float64 is no larger than torch's own float32
        forward's on the same inputs: eight images (smooth and noise), DeiT-Ti, every block. Measured
        2026-12-04: torch float32 1.1e-6 (block 0) to 4.5e-6, the engine 1.1e-6 to 5.0e-6 on every
        path (per block up to 1.4x torch's, over the blocks and at the logits at most 1.1x); a
        sloppier exp, GELU or accumulation costs several times that."""
        key = ("deit_tiny", False, 1)
        path, config, model = self.model(*key)
        rng = np.random.default_rng(5)
        image_paths = []
        for i in range(8):
            if i % 2:
                pixels = rng.integers(0, 256, size=(224, 224, 3), dtype=np.uint8)
            else:
                pixels = np.clip(np.cumsum(rng.normal(0, 8, size=(224, 224, 3)), axis=1) + 128, 0, 255).astype(np.uint8)
            image_paths.append(os.path.join(self.tmp, "quality%d.png" % i))
            Image.fromarray(pixels).save(image_paths[-1])
        x = torch.stack([deit_ref.preprocess_pixels(np.array(Image.open(p).convert("RGB"))) for p in image_paths])
        model32 = deit_ref.DeiT(config, dtype=torch.float32).load_state({k: v.numpy() for k, v in model.w.items()})
        with torch.no_grad():
            f64, h64 = model.forward_features(x)
            l64 = model.head(f64).numpy()
            f32, h32 = model32.forward_features(x.to(torch.float32))
            l32 = model32.head(f32).numpy()
        binary = find_binary()
        if binary is None:
            self.skipTest("SPARSIFINER_BIN not set and no build dir: nothing to compare")
        dump = os.path.join(self.tmp, "dump_quality")
        proc = run([binary, "classify", "-m", path] + image_paths + ["--crop-pct", "1.0", "--batch", "8",
                    "--threads", "1", "--json", "--logits", "--dump-activations", dump], timeout=CLI_TIMEOUT_S)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        rel = lambda got, ref: max_rel_diff(ref, got)[0] / max_rel_diff(ref, got)[1]
        torch_err = [rel(h.numpy(), r.numpy()) for h, r in zip(h32, h64)]
        engine_err = [rel(np.load(os.path.join(dump, "block_%d.npy" % i)), h64[i].numpy()) for i in range(len(h64))]
        torch_logits, engine_logits = rel(l32, l64), rel(np.load(os.path.join(dump, "logits.npy")), l64)
        print("\nerror against float64, per block: torch float32 %s" % " ".join("%.1e" % e for e in torch_err))
        print("                                 engine        %s" % " ".join("%.1e" % e for e in engine_err))
        print("logits: torch float32 %.2e, engine %.2e" % (torch_logits, engine_logits))
        for i, (e, t) in enumerate(zip(engine_err, torch_err)):
            self.assertLessEqual(e, 2.0 * t, "block %d: engine %.2e against torch float32 %.2e" % (i, e, t))
        self.assertLessEqual(max(engine_err), 1.5 * max(torch_err))
        self.assertLessEqual(engine_logits, 1.5 * torch_logits)

    def test_criterion_detects_plausible_bugs(self):
        """Plausible engine bugs, played on the reference, move the output well beyond the
        tolerance: two heads' q rows swapped in one block (a wrong head split), and the tanh
        approximation of GELU instead of erf (the subtlest of the two)."""
        key = ("deit_tiny", False, 1)
        path, config, model = self.model(*key)
        image_paths = self.images(224)
        ref_logits, _ = self.reference(key, image_paths)
        x = torch.stack([deit_ref.preprocess_pixels(np.array(Image.open(p))) for p in image_paths])

        tensors, _ = deit_ref.load_safetensors(path)
        d = config["embed_dim"] // config["num_heads"]
        w = tensors["blocks.5.attn.qkv.weight"]
        w[list(range(2 * d))] = w[list(range(d, 2 * d)) + list(range(d))]
        swapped = deit_ref.DeiT(config).load_state(tensors)
        with torch.no_grad():
            swapped_logits = swapped(x).numpy()

        saved_gelu = deit_ref.gelu_erf
        deit_ref.gelu_erf = lambda t: torch.nn.functional.gelu(t, approximate="tanh")
        try:
            with torch.no_grad():
                tanh_logits = model(x).numpy()
        finally:
            deit_ref.gelu_erf = saved_gelu

        print()
        for label, got, margin in (("swapped heads", swapped_logits, 100), ("tanh GELU", tanh_logits, 5)):
            diff, scale = max_rel_diff(ref_logits, got)
            print("%s: logits rel diff %.2e (tolerance %.0e)" % (label, diff / scale, REL_TOL))
            self.assertGreater(diff, margin * REL_TOL * scale, label)

if __name__ == "__main__":
    unittest.main(verbosity=2)
