"""The bundled Fashion-MNIST models (issue 6) against an independent PyTorch evaluation.

On the whole 10k test split, the tool's top-1 predictions (`sparsifiner sweep --predictions`) for
the dense model (fashion_dense) and for the Sparsifiner model with learned masks at keep rate 0.25
(fashion_sparsifiner) agree image by image with the reference of tests/reference (written from
SPEC; it reads the IDX files and the weight files itself) on at least 99.9% of the images, and the
tool's accuracies equal the figures recorded in each file's `evaluation` metadata to 0.1 point.
The reference runs in float32 to stay within a few minutes of CI (when the test was written, a float64
run gave the same top-1 on all 10k images, dense and learned 0.25, for an intermediate checkpoint of
this model: the epoch-15 backbone with an untrained predictor). Also: the README's main command (classify
the samples without -m) prints a prediction and the true class for every sample.
"""
import csv
import gzip
import json
import os
import struct
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
import sparsifiner_ref  # noqa: E402
from test_parity_dense import find_binary  # noqa: E402

MODELS = os.path.join(SOURCE, "weights", "models")
SPARSIFINER_MODEL = os.path.join(MODELS, "fashion_sparsifiner.safetensors")
DENSE_MODEL = os.path.join(MODELS, "fashion_dense.safetensors")
FASHION = "/usr/share/datasets/fashion-mnist"
SAMPLES = os.path.join(SOURCE, "datasets", "samples")
TEST_IMAGES = 10000


def read_idx(path):
    """Images [n, 28, 28] u8 or labels [n] from a gzipped IDX file (read here, not by the tool's code)."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, count = struct.unpack(">II", data[:8])
    if magic == 0x803:
        rows, cols = struct.unpack(">II", data[8:16])
        return np.frombuffer(data, np.uint8, count * rows * cols, 16).reshape(count, rows, cols)
    return np.frombuffer(data, np.uint8, count, 8).astype(np.int64)


def reference_top1(model_path, source, keep_rate=None, batch=500):
    """Top-1 of the reference model on the test split: pixels / 255, normalised with the file's
    mean and std (28x28 is the model's input size, so no resize or crop)."""
    tensors, meta = deit_ref.load_safetensors(model_path)
    config = sparsifiner_ref.config_from_metadata(meta)
    model = sparsifiner_ref.Sparsifiner(config, dtype=torch.float32).load_state(tensors)
    model.set_masks(source, keep_rate)
    mean, std = float(meta["mean"]), float(meta["std"])
    images = read_idx(os.path.join(FASHION, "t10k-images-idx3-ubyte.gz"))
    top1 = []
    with torch.no_grad():
        for i in range(0, len(images), batch):
            x = torch.as_tensor(np.array(images[i:i + batch]), dtype=torch.float32).unsqueeze(1) / 255.0
            features, _ = model.forward_features((x - mean) / std)
            top1.append(model.head(features).argmax(-1))
    return torch.cat(top1).numpy()


def start_sweep(binary, model_path, masks, keep_rates, tmp, name):
    """Starts `sweep --predictions` in the background (it runs while the reference computes)."""
    csv_path = os.path.join(tmp, name + ".csv")
    command = [binary, "sweep", "-m", model_path, "--data", "fashion-mnist", "--quiet", "--json", "--threads", "1",
               "--mask", masks, "--keep-rates", keep_rates, "--predictions", csv_path]
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


@unittest.skipUnless(os.path.isdir(FASHION), "Debian's dataset-fashion-mnist is not installed")
class BundledFashionModels(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.binary = find_binary()
        if not cls.binary:
            raise unittest.SkipTest("SPARSIFINER_BIN not set")
        cls.labels = read_idx(os.path.join(FASHION, "t10k-labels-idx1-ubyte.gz"))

    def check_agreement(self, tool_top1, labels, ref_top1, what):
        self.assertEqual(len(tool_top1), TEST_IMAGES, what)
        np.testing.assert_array_equal(labels, self.labels, what + ": labels out of order")
        agree = float(np.mean(tool_top1 == ref_top1))
        print("%s: agreement with the reference %.4f (%d images differ); tool top-1 %.4f, reference top-1 %.4f"
              % (what, agree, int(np.sum(tool_top1 != ref_top1)), float(np.mean(tool_top1 == labels)),
                 float(np.mean(ref_top1 == labels))), file=sys.stderr)
        self.assertGreaterEqual(agree, 0.999, what)

    def check_recorded(self, document, model_path):
        recorded = recorded_top1(model_path)
        rows = [document["dense"]] + document["settings"]
        for row in rows:
            if row["setting"] in recorded:
                self.assertEqual(row["images"], TEST_IMAGES, row["setting"])
                self.assertAlmostEqual(row["top1_accuracy"], recorded[row["setting"]], delta=0.001,
                                       msg=f"{os.path.basename(model_path)} {row['setting']}")
        self.assertIn("dense", recorded)

    def test_dense_and_learned_025_agree_with_the_reference(self):
        with tempfile.TemporaryDirectory() as tmp:
            # Both sweeps run in the background while the reference computes.
            dense_run = start_sweep(self.binary, DENSE_MODEL, "window", "1.0", tmp, "dense")
            sparse_run = start_sweep(self.binary, SPARSIFINER_MODEL, "learned", "0.25", tmp, "sparse")
            ref_dense = reference_top1(DENSE_MODEL, "dense")
            ref_learned = reference_top1(SPARSIFINER_MODEL, "learned", 0.25)
            dense_doc, dense_rows = finish_sweep(dense_run)
            sparse_doc, sparse_rows = finish_sweep(sparse_run)
        tool, labels = predictions_of(dense_rows, "dense")
        self.check_agreement(tool, labels, ref_dense, "fashion_dense, dense")
        tool, labels = predictions_of(sparse_rows, "learned@0.25")
        self.check_agreement(tool, labels, ref_learned, "fashion_sparsifiner, learned keep 0.25")
        self.check_recorded(dense_doc, DENSE_MODEL)
        self.check_recorded(sparse_doc, SPARSIFINER_MODEL)
        self.assertIn("learned@0.25", recorded_top1(SPARSIFINER_MODEL))

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
