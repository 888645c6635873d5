"""The bundled Fashion-MNIST models (issue 6) against an independent PyTorch evaluation.

The reference's top-1 prediction for every image of the 10k test split, for the dense model
(fashion_dense) and for the Sparsifiner model with learned masks at keep rate 0.25
(fashion_sparsifiner), is stored in weights/models/fashion_reference.json: made once by
tests/reference/make_fashion_reference.py from the PyTorch reference of tests/reference (float32,
written from SPEC; it reads the IDX files and the weight files itself), with each model's SHA-256.
Remake it with that script whenever a bundled weight file changes; this test refuses a stored file
whose SHA-256 no longer matches.

By default (fast, for CI) the tool's predictions (`sparsifiner sweep --predictions`) on the first
SUBSET images must agree with the stored ones on at least 99.9% of them, and the stored predictions'
accuracy on all 10k must equal the figures recorded in each file's `evaluation` metadata to 0.1 point.
With SPARSIFINER_FULL_TESTS=1 the tool runs on all 10k images (agreement >= 99.9%, and its own
accuracy equal to the recorded figures to 0.1 point) and the reference is recomputed and must
reproduce the stored predictions exactly (several minutes). Also: the README's main command
(classify the samples without -m) prints a prediction and the true class for every sample.
"""
import csv
import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import torch

SOURCE = os.environ.get("SPARSIFINER_SOURCE_DIR",
                        os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")))
sys.path.insert(0, os.path.join(SOURCE, "tests", "reference"))
sys.path.insert(0, os.path.join(SOURCE, "tests", "py"))
import deit_ref  # noqa: E402
import make_fashion_reference  # noqa: E402
from test_parity_dense import find_binary  # noqa: E402

MODELS = os.path.join(SOURCE, "weights", "models")
SPARSIFINER_MODEL = os.path.join(MODELS, "fashion_sparsifiner.safetensors")
DENSE_MODEL = os.path.join(MODELS, "fashion_dense.safetensors")
FASHION = "/usr/share/datasets/fashion-mnist"
SAMPLES = os.path.join(SOURCE, "datasets", "samples")
TEST_IMAGES = 10000


FULL = os.environ.get("SPARSIFINER_FULL_TESTS") == "1"
SUBSET = 2000  # images the default run checks: the first ones of the split, in file order
read_idx = make_fashion_reference.read_idx


def start_sweep(binary, model_path, masks, keep_rates, tmp, name, limit):
    """Starts `sweep --predictions` in the background (both models' sweeps run at once)."""
    csv_path = os.path.join(tmp, name + ".csv")
    command = [binary, "sweep", "-m", model_path, "--data", "fashion-mnist", "--quiet", "--json", "--threads", "1",
               "--mask", masks, "--keep-rates", keep_rates, "--predictions", csv_path, "--limit", str(limit)]
    out = open(os.path.join(tmp, name + ".json"), "w")
    return subprocess.Popen(command, stdout=out, stderr=subprocess.PIPE, text=True), csv_path, out


def finish_sweep(started):
    process, csv_path, out = started
    _, stderr = process.communicate(timeout=900)
    out.close()
    if process.returncode != 0:
        raise AssertionError("sweep failed: " + stderr)
    with open(out.name) as f:
        document = json.load(f)
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    return document, rows


def predictions_of(rows, setting):
    picked = sorted((int(r["index"]), int(r["top1"]), int(r["label"])) for r in rows if r["setting"] == setting)
    return np.array([p[1] for p in picked]), np.array([p[2] for p in picked])


def recorded_top1(model_path):
    return json.loads(deit_ref.load_safetensors(model_path)[1]["evaluation"])["top1"]


def stored_top1(file_name):
    entry = make_fashion_reference.load_stored()["models"][file_name]
    return np.array([int(c) for c in entry["top1"]]), entry


@unittest.skipUnless(os.path.isdir(FASHION), "Debian's dataset-fashion-mnist is not installed")
class BundledFashionModels(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.binary = find_binary()
        if not cls.binary:
            raise unittest.SkipTest("SPARSIFINER_BIN not set")
        cls.labels = read_idx(os.path.join(FASHION, "t10k-labels-idx1-ubyte.gz"))

    def check_agreement(self, tool_top1, labels, ref_top1, what):
        count = len(ref_top1)
        self.assertEqual(len(tool_top1), count, what)
        np.testing.assert_array_equal(labels, self.labels[:count], what + ": labels out of order")
        agree = float(np.mean(tool_top1 == ref_top1))
        print("%s, %d images: agreement with the stored reference %.4f (%d differ); tool top-1 %.4f, reference %.4f"
              % (what, count, agree, int(np.sum(tool_top1 != ref_top1)), float(np.mean(tool_top1 == labels)),
                 float(np.mean(ref_top1 == labels))), file=sys.stderr)
        self.assertGreaterEqual(agree, 0.999, what)

    def test_stored_reference_is_for_these_weights_and_matches_the_recorded_accuracy(self):
        for file_name, _, _, setting in make_fashion_reference.SETTINGS:
            path = os.path.join(MODELS, file_name)
            top1, entry = stored_top1(file_name)
            self.assertEqual(entry["sha256"], make_fashion_reference.sha256_of(path),
                             file_name + ": remake weights/models/fashion_reference.json "
                                         "(tests/reference/make_fashion_reference.py)")
            self.assertEqual(entry["setting"], setting)
            self.assertEqual(len(top1), TEST_IMAGES)
            accuracy = float(np.mean(top1 == self.labels))
            self.assertAlmostEqual(accuracy, recorded_top1(path)[setting], delta=0.001, msg=file_name)

    def test_dense_and_learned_025_agree_with_the_reference(self):
        count = TEST_IMAGES if FULL else SUBSET
        with tempfile.TemporaryDirectory() as tmp:
            dense_run = start_sweep(self.binary, DENSE_MODEL, "window", "1.0", tmp, "dense", count)
            sparse_run = start_sweep(self.binary, SPARSIFINER_MODEL, "learned", "0.25", tmp, "sparse", count)
            dense_doc, dense_rows = finish_sweep(dense_run)
            sparse_doc, sparse_rows = finish_sweep(sparse_run)
        ref_dense, _ = stored_top1("fashion_dense.safetensors")
        ref_learned, _ = stored_top1("fashion_sparsifiner.safetensors")
        tool, labels = predictions_of(dense_rows, "dense")
        self.check_agreement(tool, labels, ref_dense[:count], "fashion_dense, dense")
        tool, labels = predictions_of(sparse_rows, "learned@0.25")
        self.check_agreement(tool, labels, ref_learned[:count], "fashion_sparsifiner, learned keep 0.25")
        if FULL:
            self.check_recorded(dense_doc, DENSE_MODEL)
            self.check_recorded(sparse_doc, SPARSIFINER_MODEL)

    def check_recorded(self, document, model_path):
        recorded = recorded_top1(model_path)
        rows = [document["dense"]] + document["settings"]
        for row in rows:
            if row["setting"] in recorded:
                self.assertEqual(row["images"], TEST_IMAGES, row["setting"])
                self.assertAlmostEqual(row["top1_accuracy"], recorded[row["setting"]], delta=0.001,
                                       msg=f"{os.path.basename(model_path)} {row['setting']}")
        self.assertIn("dense", recorded)

    @unittest.skipUnless(FULL, "the PyTorch recomputation of the stored predictions runs with SPARSIFINER_FULL_TESTS=1")
    def test_reference_recomputed_reproduces_the_stored_predictions(self):
        torch.set_num_threads(1)
        for file_name, source, keep_rate, _ in make_fashion_reference.SETTINGS:
            recomputed = make_fashion_reference.reference_top1(os.path.join(MODELS, file_name), source, keep_rate)
            stored, _ = stored_top1(file_name)
            self.assertEqual(int(np.sum(recomputed != stored)), 0, file_name)

    def test_main_command_shows_prediction_and_truth_for_every_sample(self):
        samples = sorted(f for f in os.listdir(SAMPLES) if f.endswith(".png"))
        self.assertEqual(len(samples), 24)
        env = dict(os.environ)
        env.pop("SPARSIFINER_MODEL", None)  # the default model, as on a fresh machine
        run = subprocess.run([self.binary, "classify", SAMPLES, "--top", "1", "--truth-from-name"],
                             capture_output=True, text=True, timeout=120, env=env)
        self.assertEqual(run.returncode, 0, run.stderr)
        names = json.loads(deit_ref.load_safetensors(SPARSIFINER_MODEL)[1]["class_names"])
        lines = run.stdout.splitlines()
        for name in samples:
            header = [i for i, line in enumerate(lines) if line.startswith(os.path.join(SAMPLES, name))]
            self.assertEqual(len(header), 1, name)
            true_name = lines[header[0]].split("(true: ")[1]
            self.assertIn(true_name.rsplit(" (", 1)[0], names, name)  # the true class, by name
            prediction = lines[header[0] + 1].split()
            self.assertTrue(prediction[-1] in ("correct", "WRONG"), lines[header[0] + 1])
        self.assertRegex(lines[-1], r"^top-1 correct: \d+ of 24 ")


if __name__ == "__main__":
    unittest.main()
