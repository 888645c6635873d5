"""Grey (1-channel) models end to end (issue 6): per-model normalisation and crop from the weight
metadata, Pillow's convert("L") for colour input, the converter on a checkpoint in
weights/train_fashion.py's layout, the default model when -m is omitted, and sweep --predictions.

The reference for every logit is tests/reference/deit_ref.py (float64 PyTorch), whose input side is
PIL's convert("L") + numpy here, written apart from the engine's C++ preprocessing.

Tolerance: max |engine - reference| <= 2e-5 * max |reference| over the logits, as in
test_parity_dense.py (the same model family; a float32 engine lands near 3e-6).
"""
import argparse
import gzip
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, BUILD_DIR, SOURCE_DIR, have_binary, run as run_command  # noqa: E402
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "reference"))
sys.path.insert(0, os.path.join(SOURCE_DIR, "weights"))
import deit_ref  # noqa: E402
import safetensors_io  # noqa: E402

REL_TOL = 2e-5
TIMEOUT_S = 300
MEAN, STD = 0.286, 0.353
FASHION_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def run(args, env=None, check_ok=True):
    """Every command runs without the caller's SPARSIFINER_MODEL (the bundled-model lookup is tested)."""
    return run_command(args, expect_rc=0 if check_ok else None, timeout=TIMEOUT_S,
                       env={"SPARSIFINER_MODEL": None, **(env or {})})


def make_random(path, *extra):
    run([sys.executable, os.path.join(SOURCE_DIR, "weights", "make_random_model.py"), "--arch", "deit_tiny",
         "--img-size", "28", "--patch-size", "4", "--num-classes", "10", "--peaky", "-o", path] + list(extra))


def reference_model(path):
    tensors, meta = deit_ref.load_safetensors(path)
    config = deit_ref.deit_config("deit_tiny", num_classes=int(meta["num_classes"]), img_size=28, patch_size=4,
                                  in_chans=int(meta["in_chans"]))
    return deit_ref.DeiT(config).load_state(tensors), meta


def grey_reference_logits(model, grey_images, mean=MEAN, std=STD):
    x = torch.stack([deit_ref.preprocess_pixels(g, mean=(mean,), std=(std,)) for g in grey_images])
    with torch.no_grad():
        return model(x).numpy()


def relative_error(reference, got):
    reference, got = np.asarray(reference, np.float64), np.asarray(got, np.float64)
    return float(np.abs(reference - got).max() / np.abs(reference).max())


@unittest.skipUnless(have_binary(), "sparsifiner binary not built (set SPARSIFINER_BIN)")
class GreyModelTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sparsifiner_grey_")
        cls.bin = BIN
        cls.grey_model = os.path.join(cls.tmp, "grey.safetensors")
        make_random(cls.grey_model, "--in-chans", "1", "--mean", str(MEAN), "--std", str(STD), "--crop-pct", "1.0",
                    "--seed", "5")
        rng = np.random.default_rng(6)
        # A grey PNG at the model size (mode L), a colour one at the model size, and a colour one
        # that needs resizing (shorter side 31 -> 28, then a centre crop).
        cls.images = []
        for name, shape, mode in (("grey.png", (28, 28), "L"), ("colour.png", (28, 28, 3), "RGB"),
                                  ("colour_big.png", (31, 40, 3), "RGB")):
            coarse = rng.integers(0, 256, size=(5, 5) + shape[2:], dtype=np.uint8)
            image = Image.fromarray(coarse, mode).resize((shape[1], shape[0]), Image.BICUBIC)
            path = os.path.join(cls.tmp, name)
            image.save(path)
            cls.images.append(path)

    @classmethod
    def tearDownClass(cls):
        if not os.environ.get("SPARSIFINER_KEEP_TMP"):
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def classify_logits(self, model, images, env=None, extra=()):
        result = run([self.bin, "classify"] + (["-m", model] if model else []) + list(images) +
                     ["--json", "--logits", "--batch", "3"] + list(extra), env=env)
        doc = json.loads(result.stdout)
        return doc, np.array([r["logits"] for r in doc["results"]])

    # ------------------------------------------------------------------ classify against PyTorch

    def test_grey_model_logits_match_the_reference_on_grey_and_colour_images(self):
        model, meta = reference_model(self.grey_model)
        self.assertEqual((meta["in_chans"], meta["mean"], meta["crop_pct"]), ("1", "0.286", "1.0"))
        doc, logits = self.classify_logits(self.grey_model, self.images)
        self.assertEqual(doc["settings"]["crop_pct"], 1.0)  # the model's, not the 0.875 default
        grey = [deit_ref.load_image(p, 28, 1.0, in_chans=1) for p in self.images]
        reference = grey_reference_logits(model, grey)
        error = relative_error(reference, logits)
        print("grey model: max |engine - reference| / max |reference| = %.2e" % error)
        self.assertLessEqual(error, REL_TOL)

        # The criterion sees the plausible mistakes: a plain channel average instead of the luma,
        # or ImageNet's red-channel statistics instead of the model's own.
        rgb = np.asarray(Image.open(self.images[1]).convert("RGB"), dtype=np.float64)
        averaged = np.floor(rgb.mean(axis=2) + 0.5).astype(np.uint8)
        wrong = grey_reference_logits(model, [averaged])
        self.assertGreater(relative_error(wrong, logits[1:2]), 50 * REL_TOL)
        wrong = grey_reference_logits(model, grey[:1], mean=0.485, std=0.229)
        self.assertGreater(relative_error(wrong, logits[:1]), 50 * REL_TOL)

    def test_crop_pct_flag_overrides_the_model(self):
        doc, logits = self.classify_logits(self.grey_model, self.images[2:], extra=["--crop-pct", "0.875"])
        self.assertEqual(doc["settings"]["crop_pct"], 0.875)
        model, _ = reference_model(self.grey_model)
        reference = grey_reference_logits(model, [deit_ref.load_image(self.images[2], 28, 0.875, in_chans=1)])
        self.assertLessEqual(relative_error(reference, logits), REL_TOL)

    def test_preprocessing_pixels_match_pillow_convert_L(self):
        dump = os.path.join(BUILD_DIR, "tests", "preprocess_dump")
        if not os.path.exists(dump):
            self.skipTest("preprocess_dump not built")
        rng = np.random.default_rng(9)
        photo = os.path.join(self.tmp, "noise.png")
        Image.fromarray(rng.integers(0, 256, size=(45, 37, 3), dtype=np.uint8), "RGB").save(photo)
        for path, crop in ((photo, 1.0), (photo, 0.875), (self.images[0], 1.0)):
            out = os.path.join(self.tmp, "dump.bin")
            run([dump, path, "28", str(crop), out, "1", str(MEAN), str(STD)])
            with open(out, "rb") as f:
                raw = f.read()
            w, h = struct.unpack("<ii", raw[:8])
            pixels = np.frombuffer(raw[8:8 + w * h * 3], dtype=np.uint8).reshape(h, w, 3)
            floats = np.frombuffer(raw[8 + w * h * 3:], dtype=np.float32).reshape(1, h, w)
            expected = deit_ref.load_image(path, 28, crop, in_chans=1)
            for c in range(3):
                np.testing.assert_array_equal(pixels[:, :, c], expected, "%s crop %s" % (path, crop))
            scaled = expected.astype(np.float32) / np.float32(255)
            np.testing.assert_allclose(floats[0], (scaled - np.float32(MEAN)) / np.float32(STD), rtol=0, atol=1e-6)
        # A grey PNG decodes to its grey values replicated (no colour conversion on the way).
        out = os.path.join(self.tmp, "decoded.bin")
        run([dump, "--decode", self.images[0], out])
        with open(out, "rb") as f:
            decoded = np.frombuffer(f.read()[8:], dtype=np.uint8).reshape(28, 28, 3)
        grey = np.asarray(Image.open(self.images[0]))
        for c in range(3):
            np.testing.assert_array_equal(decoded[:, :, c], grey)

    # ------------------------------------------------------------------ metadata validation

    def test_bad_normalisation_metadata_is_one_line_naming_file_and_key(self):
        tensors, meta = safetensors_io.read_safetensors(self.grey_model)
        cases = {"std": ("0", "__metadata__.std"), "mean": ("0.1,0.2", "__metadata__.mean"),
                 "crop_pct": ("1.5", "__metadata__.crop_pct")}
        for key, (value, where) in cases.items():
            path = os.path.join(self.tmp, "bad_%s.safetensors" % key)
            safetensors_io.write_safetensors(path, tensors, dict(meta, **{key: value}))
            for command in (["info"], ["classify", self.images[0]]):
                result = run([self.bin] + command + ["-m", path], check_ok=False)
                self.assertEqual(result.returncode, 3, result.stderr)
                self.assertEqual(result.stdout, "")
                lines = result.stderr.strip().splitlines()
                self.assertEqual(len(lines), 1, result.stderr)
                self.assertIn(path, lines[0])
                self.assertIn(where, lines[0])
        path = os.path.join(self.tmp, "no_mean.safetensors")
        safetensors_io.write_safetensors(path, tensors, {k: v for k, v in meta.items() if k != "mean"})
        result = run([self.bin, "info", "-m", path], check_ok=False)
        self.assertEqual(result.returncode, 3)
        self.assertIn("__metadata__.mean: absent", result.stderr)

    # ------------------------------------------------------------------ converter

    def fashion_checkpoint(self, path, with_stats=True, depth=2):
        """A checkpoint in train_fashion.py's release layout, random tensors of the right names
        and shapes: 1-channel patch 4 on 28x28 (50 tokens), D 128, 2 heads, predictor K 16."""
        D, hidden, N, K, c = 128, 512, 50, 16, 32
        gen = torch.Generator().manual_seed(21)

        def rand(*shape, scale=0.05):
            return torch.randn(*shape, generator=gen) * scale

        sd = {"cls_token": rand(1, 1, D), "pos_embed": rand(1, N, D, scale=0.5),
              "patch_embed.proj.weight": rand(D, 1, 4, 4, scale=0.25), "patch_embed.proj.bias": rand(D)}
        for i in range(depth):
            b = "blocks.%d." % i
            sd.update({b + "norm1.weight": 1 + rand(D), b + "norm1.bias": rand(D),
                       b + "attn.qkv.weight": rand(3 * D, D, scale=0.15), b + "attn.qkv.bias": rand(3 * D),
                       b + "attn.proj.weight": rand(D, D, scale=0.09), b + "attn.proj.bias": rand(D),
                       b + "attn.mask_predictor.proj_c_q.weight": rand(c, 64), b + "attn.mask_predictor.proj_c_q.bias": rand(c),
                       b + "attn.mask_predictor.proj_c_k.weight": rand(c, 64), b + "attn.mask_predictor.proj_c_k.bias": rand(c),
                       b + "attn.mask_predictor.proj_n": rand(N, K, scale=0.2),
                       b + "attn.mask_predictor.proj_back_n": rand(N, K, scale=0.2),
                       b + "norm2.weight": 1 + rand(D), b + "norm2.bias": rand(D),
                       b + "mlp.fc1.weight": rand(hidden, D, scale=0.09), b + "mlp.fc1.bias": rand(hidden),
                       b + "mlp.fc2.weight": rand(D, hidden, scale=0.045), b + "mlp.fc2.bias": rand(D)})
        sd.update({"norm.weight": 1 + rand(D), "norm.bias": rand(D), "head.weight": rand(10, D, scale=0.3),
                   "head.bias": rand(10)})
        cfg = {"arch": "deit_fashion", "embed_dim": D, "num_heads": 2, "depth": depth, "mlp_hidden": hidden,
               "patch_size": 4, "img_size": 28, "in_chans": 1, "num_classes": 10, "keep_rate": 0.25,
               "basis_coef_topk": 8, "basis_threshold": 0.02, "reduce_c_factor": 2, "reduce_n_factor": 3}
        if with_stats:
            cfg.update({"mean": MEAN, "std": STD})
        torch.save({"model": sd, "args": argparse.Namespace(**cfg), "epoch": 3, "stage": "finetune",
                    "metrics": {"test_top1_dense": 0.1}, "class_names": FASHION_CLASSES}, path)
        return sd

    def convert(self, *args, check_ok=True):
        return run([sys.executable, os.path.join(SOURCE_DIR, "weights", "convert.py")] + list(args),
                   check_ok=check_ok)

    def test_converter_takes_normalisation_and_class_names_from_a_fashion_checkpoint(self):
        ckpt = os.path.join(self.tmp, "fashion.pth")
        sd = self.fashion_checkpoint(ckpt)
        out = os.path.join(self.tmp, "fashion.safetensors")
        self.convert(ckpt, "-o", out, "--crop-pct", "1.0")
        tensors, meta = safetensors_io.read_safetensors(out)
        self.assertEqual(meta["in_chans"], "1")
        self.assertEqual((meta["mean"], meta["std"], meta["crop_pct"]), ("0.286", "0.353", "1.0"))
        self.assertEqual(json.loads(meta["class_names"]), FASHION_CLASSES)
        # 50 tokens with K = 16: floor(50 / 3) = 16 (the default factor 6 would give 8).
        self.assertEqual((meta["reduce_n_factor"], meta["reduce_c_factor"], meta["basis_coef_topk"]), ("3", "2", "8"))
        self.assertEqual(set(tensors), set(sd))
        np.testing.assert_array_equal(tensors["patch_embed.proj.weight"], sd["patch_embed.proj.weight"].numpy())

        info = json.loads(run([self.bin, "info", "-m", out, "--json"]).stdout)["model"]
        self.assertEqual((info["in_chans"], info["predictor"]["K"], info["tokens"]), (1, 16, 50))
        # The converted file classifies as the reference computes it (dense path) and names the classes.
        doc, logits = self.classify_logits(out, self.images, extra=["--mask", "dense"])
        model = deit_ref.DeiT(deit_ref.deit_config("deit_tiny", num_classes=10, img_size=28, patch_size=4, depth=2,
                                                   in_chans=1) | {"embed_dim": 128, "num_heads": 2,
                                                                  "mlp_hidden": 512})
        model.load_state({k: v.numpy() for k, v in sd.items()})
        reference = grey_reference_logits(model, [deit_ref.load_image(p, 28, 1.0, in_chans=1) for p in self.images])
        self.assertLessEqual(relative_error(reference, logits), REL_TOL)
        top = doc["results"][0]["top"][0]
        self.assertEqual(top["label"], FASHION_CLASSES[top["class"]])

    def test_classify_truth_from_name(self):
        ckpt = os.path.join(self.tmp, "fashion_truth.pth")
        self.fashion_checkpoint(ckpt, depth=1)
        model = os.path.join(self.tmp, "fashion_truth.safetensors")
        self.convert(ckpt, "-o", model, "--crop-pct", "1.0")
        folder = os.path.join(self.tmp, "named")
        os.makedirs(folder, exist_ok=True)
        # name -> the class index the file name states (None: it states none).
        expected = {"0001_t-shirt-top.png": 0, "0002_Ankle_Boot.png": 9, "0003_bag.png": 8,
                    "0004_hat.png": None, "noclass.png": None}
        for name in expected:
            shutil.copy(self.images[0], os.path.join(folder, name))
        doc = json.loads(run([self.bin, "classify", "-m", model, folder, "--truth-from-name", "--json",
                              "--top", "1"]).stdout)
        truths = {os.path.basename(r["file"]): r["true_class"] for r in doc["results"]}
        for name, index in expected.items():
            self.assertEqual(truths[name], None if index is None else
                             {"class": index, "label": FASHION_CLASSES[index]}, name)
        predicted = {os.path.basename(r["file"]): r["top"][0]["class"] for r in doc["results"]}
        correct = sum(predicted[n] == i for n, i in expected.items() if i is not None)
        self.assertEqual(doc["truth"], {"images": 3, "top1_correct": correct})
        table = run([self.bin, "classify", "-m", model, folder, "--truth-from-name", "--top", "2"])
        lines = table.stdout.splitlines()
        for name, index in expected.items():
            at = [i for i, line in enumerate(lines) if line.startswith(os.path.join(folder, name))][0]
            if index is None:
                self.assertTrue(lines[at].endswith("(true: unknown)"), lines[at])
                self.assertIn(name + ": the file name names no class", table.stderr)
            else:
                self.assertTrue(lines[at].endswith("(true: %s (%d))" % (FASHION_CLASSES[index], index)), lines[at])
                verdict = "correct" if predicted[name] == index else "WRONG"
                self.assertTrue(lines[at + 1].endswith("  " + verdict), lines[at + 1])
                self.assertFalse(lines[at + 2].endswith(("correct", "WRONG")), "only the top-1 row is judged")
        self.assertEqual(lines[-1], "top-1 correct: %d of 3 (%.1f%%)" % (correct, 100.0 * correct / 3))

    def test_converter_flags_override_the_checkpoint(self):
        ckpt = os.path.join(self.tmp, "fashion_flags.pth")
        self.fashion_checkpoint(ckpt, depth=1)
        names = os.path.join(self.tmp, "names.txt")
        with open(names, "w") as f:
            f.write("\n".join("class %d" % i for i in range(10)) + "\n")
        out = os.path.join(self.tmp, "flags.safetensors")
        self.convert(ckpt, "-o", out, "--mean", "0.5", "--std", "0.25", "--crop-pct", "0.9", "--class-names", names)
        _, meta = safetensors_io.read_safetensors(out)
        self.assertEqual((meta["mean"], meta["std"], meta["crop_pct"]), ("0.5", "0.25", "0.9"))
        self.assertEqual(json.loads(meta["class_names"])[3], "class 3")

        with open(names, "w") as f:
            f.write("a\nb\n")
        result = self.convert(ckpt, "-o", out, "--class-names", names, check_ok=False)
        self.assertEqual(result.returncode, 2)
        # The error is the last line (the lines before it are the converter's notes on what it
        # took from the checkpoint's args).
        self.assertIn("names.txt: 2 class names for the head's 10 classes", result.stderr.strip().splitlines()[-1])
        result = self.convert(ckpt, "-o", out, "--std", "0.2,0.3", check_ok=False)
        self.assertEqual(result.returncode, 2)
        self.assertIn("--std: 2 values for in_chans 1", result.stderr)

        bare = os.path.join(self.tmp, "fashion_bare.pth")
        self.fashion_checkpoint(bare, with_stats=False, depth=1)
        result = self.convert(bare, "-o", out, check_ok=False)
        self.assertEqual(result.returncode, 2)
        self.assertIn("needs a mean and a std", result.stderr)
        self.convert(bare, "-o", out, "--mean", "0.3", "--std", "0.4")

    # ------------------------------------------------------------------ default model

    def test_default_model_from_the_environment_and_the_installed_layout(self):
        doc, _ = self.classify_logits(None, self.images[:1], env={"SPARSIFINER_MODEL": self.grey_model})
        self.assertEqual(doc["model"]["file"], self.grey_model)
        info = json.loads(run([self.bin, "info", "--json"], env={"SPARSIFINER_MODEL": self.grey_model}).stdout)
        self.assertEqual(info["model"]["file"], self.grey_model)
        # -m still wins over the environment.
        other = os.path.join(self.tmp, "other.safetensors")
        shutil.copy(self.grey_model, other)
        doc, _ = self.classify_logits(other, self.images[:1], env={"SPARSIFINER_MODEL": self.grey_model})
        self.assertEqual(doc["model"]["file"], other)

        missing = os.path.join(self.tmp, "missing.safetensors")
        for command in (["classify", self.images[0]], ["sweep", "--images", self.images[0]],
                        ["profile", "--repeat", "1"], ["visualize", self.images[0], "-o", "x.png", "--layer", "0"],
                        ["bench", "--runs", "1", "--no-peak"]):
            result = run([self.bin] + command, env={"SPARSIFINER_MODEL": missing}, check_ok=False)
            self.assertEqual(result.returncode, 3, command)
            self.assertEqual(result.stdout, "")
            self.assertEqual(result.stderr.strip().splitlines(),
                             ["sparsifiner: SPARSIFINER_MODEL=%s: no such file (pass -m MODEL, or unset it for the "
                              "bundled model)" % missing])

        # Installed layout: <prefix>/bin/sparsifiner finds <prefix>/share/sparsifiner/models/.
        prefix = os.path.join(self.tmp, "prefix")
        os.makedirs(os.path.join(prefix, "bin"), exist_ok=True)
        installed_bin = os.path.join(prefix, "bin", "sparsifiner")
        shutil.copy(self.bin, installed_bin)
        result = run([installed_bin, "info", "--json"], check_ok=False)
        source_model = os.path.join(SOURCE_DIR, "weights", "models", "fashion_sparsifiner.safetensors")
        installed_model = os.path.join(prefix, "share", "sparsifiner", "models", "fashion_sparsifiner.safetensors")
        # The bundled model is committed (issue 6): the source tree's copy is found last.
        self.assertTrue(os.path.exists(source_model), source_model)
        self.assertEqual(json.loads(result.stdout)["model"]["file"], source_model)
        os.makedirs(os.path.dirname(installed_model), exist_ok=True)
        shutil.copy(self.grey_model, installed_model)
        info = json.loads(run([installed_bin, "info", "--json"]).stdout)
        self.assertEqual(info["model"]["file"], installed_model)

    # ------------------------------------------------------------------ sweep --predictions

    def read_csv(self, path):
        with open(path) as f:
            lines = f.read().splitlines()
        self.assertEqual(lines[0], "index,name,label,setting,top1")
        rows = []
        for line in lines[1:]:
            index, name, label, setting, top1 = line.split(",")
            rows.append((int(index), name, int(label) if label else -1, setting, int(top1)))
        return rows

    def check_rows_against_json(self, rows, doc):
        by_setting = {}
        for row in rows:
            by_setting.setdefault(row[3], []).append(row)
        dense_top1 = {r[0]: r[4] for r in by_setting["dense"]}
        settings = [doc["dense"]] + doc["settings"]
        self.assertEqual(sorted(by_setting), sorted(s["setting"] for s in settings))
        for s in settings:
            mine = by_setting[s["setting"]]
            self.assertEqual(len(mine), s["images"], s["setting"])
            self.assertEqual(sum(r[2] == r[4] for r in mine), s["top1_correct"], s["setting"])
            self.assertEqual(sum(dense_top1[r[0]] == r[4] for r in mine), s["top1_agree"], s["setting"])
        return dense_top1

    def test_sweep_predictions_match_the_json_and_a_pytorch_evaluation(self):
        if not os.path.isdir(FASHION_DIR):
            self.skipTest("Debian's dataset-fashion-mnist is not installed")
        model = os.path.join(self.tmp, "grey_sparsifiner.safetensors")
        make_random(model, "--in-chans", "1", "--mean", str(MEAN), "--std", str(STD), "--crop-pct", "1.0",
                    "--sparsifiner", "--seed", "7")
        limit = 24
        base = [self.bin, "sweep", "-m", model, "--data", "fashion-mnist", "--limit", str(limit),
                "--keep-rates", "0.5,0.25", "--mask", "learned,oracle", "--batch", "5", "--json", "--quiet"]
        whole = os.path.join(self.tmp, "predictions.csv")
        doc = json.loads(run(base + ["--predictions", whole]).stdout)
        self.assertEqual(doc["options"]["crop_pct"], 1.0)
        rows = self.read_csv(whole)
        self.assertEqual(len(rows), limit * 5)
        self.assertEqual([s["setting"] for s in doc["settings"]],
                         ["learned@0.5", "learned@0.25", "oracle@0.5", "oracle@0.25"])
        dense_top1 = self.check_rows_against_json(rows, doc)
        self.assertEqual(sorted(dense_top1), list(range(limit)))

        # Image by image against PyTorch on the IDX pixels themselves (no image files between).
        with gzip.open(os.path.join(FASHION_DIR, "t10k-images-idx3-ubyte.gz")) as f:
            pixels = np.frombuffer(f.read(), dtype=np.uint8)[16:16 + limit * 784].reshape(limit, 28, 28)
        reference, _ = reference_model(model)
        logits = grey_reference_logits(reference, list(pixels))
        for i, z in enumerate(logits):
            order = np.argsort(-z, kind="stable")
            if z[order[0]] - z[order[1]] > 1e-4 * np.abs(z).max():  # a float32 near-tie may flip
                self.assertEqual(dense_top1[i], order[0], "image %d" % i)

        # Shards: each its own file, together the whole sweep.
        parts = []
        for shard in ("1/2", "2/2"):
            path = os.path.join(self.tmp, "predictions_%s.csv" % shard[0])
            part_doc = json.loads(run(base + ["--shard", shard, "--predictions", path]).stdout)
            part_rows = self.read_csv(path)
            self.check_rows_against_json(part_rows, part_doc)
            parts += part_rows
        self.assertEqual(sorted(parts), sorted(rows))

    def test_predictions_file_that_cannot_be_written_is_an_error_before_any_work(self):
        result = run([self.bin, "sweep", "-m", self.grey_model, "--images", self.images[0], "--predictions",
                      os.path.join(self.tmp, "no", "such", "dir.csv")], check_ok=False)
        self.assertEqual(result.returncode, 4)
        self.assertEqual(result.stdout, "")
        self.assertEqual(len(result.stderr.strip().splitlines()), 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
