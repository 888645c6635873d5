"""`sparsifiner sweep` on small data (issue 5): the numbers, the data sources, the failures.

The fixture tests/data/sweep_folder/ holds 10 small PNGs in 5 class folders (sorted names ->
classes 0..4 of a 10-class random tiny model). Its expected accuracies are computed here
independently of the sweep code:
- dense (and every keep rate 1.0, which is dense attention): the float64 PyTorch reference
  tests/reference/deit_ref.py on the same resized/cropped u8 pixels (from the preprocess_dump
  test tool), top-1/top-5 against the folder labels;
- sparse settings: `sparsifiner classify --mask M --keep-rate R --top 5 --json` per image.
Also: MACs fall as the keep rate falls, keep rate 1.0 gives agreement 1 and KL 0, list files and
plain paths, Fashion-MNIST (when Debian's package is installed), failures and exit codes, and a
Ctrl-C that leaves valid JSON marked partial.

Environment: SPARSIFINER_BIN, SPARSIFINER_SOURCE_DIR, SPARSIFINER_BUILD_DIR.
"""
import glob
import gzip
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, BUILD_DIR, SOURCE_DIR, sparsifiner  # noqa: E402
FIXTURE = os.path.join(SOURCE_DIR, "tests", "data", "sweep_folder")
CLASSES = ["bars", "blobs", "checks", "rings", "stripes"]
FASHION_DIR = "/usr/share/datasets/fashion-mnist"
TIMEOUT_S = 300


def make_model(directory, sparsifiner=True, seed=0):
    path = os.path.join(directory, "tiny10.safetensors")
    args = [sys.executable, os.path.join(SOURCE_DIR, "weights", "make_random_model.py"), "--arch", "deit_tiny",
            "--num-classes", "10", "--seed", str(seed), "-o", path]
    if sparsifiner:
        args.append("--sparsifiner")
    subprocess.run(args, check=True, timeout=TIMEOUT_S)
    return path


def run(args, expect_rc=0):  # test_sweep_parallel imports it
    return sparsifiner(args, expect_rc, timeout=TIMEOUT_S)


def sweep_json(args, expect_rc=0):
    return json.loads(run(["sweep", "--json", "--quiet"] + args, expect_rc).stdout)


def fixture_images():
    """-> [(path, label)] in the sweep's order: sorted class folders, sorted files."""
    return [(p, c) for c, name in enumerate(CLASSES) for p in sorted(glob.glob(os.path.join(FIXTURE, name, "*.png")))]


def rows_by_setting(doc):
    return {(r["mask"], r["keep_rate"]): r for r in doc["settings"]}


def assert_same_results(test, a, b, exact_latency_count=True):
    """Two sweep documents over the same images: counts, sums of integers and accuracies equal,
    the KL sums equal up to summation order, the latency samples pooled (same number)."""
    test.assertEqual(a["images"], b["images"])
    test.assertEqual(a["errors"], b["errors"])
    test.assertEqual(len(a["settings"]), len(b["settings"]))
    for ra, rb in zip([a["dense"]] + a["settings"], [b["dense"]] + b["settings"]):
        for key in ("mask", "keep_rate", "attention", "images", "labelled", "top1_correct", "top5_correct",
                    "top1_agree", "top1_accuracy", "top5_accuracy", "top1_agreement", "macs_sum", "mhsa_macs_sum",
                    "macs_per_image", "mhsa_macs_per_image"):
            test.assertEqual(ra[key], rb[key], key)
        test.assertAlmostEqual(ra["kl_sum_nats"], rb["kl_sum_nats"], delta=1e-9 + 1e-9 * abs(rb["kl_sum_nats"]))
        test.assertEqual(len(ra["latency_ms_samples"]), len(rb["latency_ms_samples"]))


@unittest.skipIf(BIN is None, "SPARSIFINER_BIN is not set and no build dir binary was found")
class SweepTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sweep_test_")
        cls.model = make_model(cls.tmp)
        cls.doc = sweep_json(["-m", cls.model, "--data", FIXTURE, "--keep-rates", "1.0,0.5,0.25,0.1",
                              "--mask", "learned,oracle,window"])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_document_shape(self):
        d = self.doc
        self.assertEqual(d["schema_version"], 1)
        self.assertEqual(d["command"], "sweep")
        for key in ("tool", "machine", "model", "data", "shard", "options", "dense", "settings", "errors"):
            self.assertIn(key, d)
        self.assertFalse(d["partial"])
        self.assertEqual(d["data"]["kind"], "folder")
        self.assertEqual(d["data"]["classes"], 5)
        self.assertEqual(d["images"], {"attempted": 10, "ok": 10, "failed": 0})
        self.assertEqual(len(d["settings"]), 12)
        for row in [d["dense"]] + d["settings"]:
            self.assertEqual(row["images"], 10)
            self.assertEqual(len(row["latency_ms_samples"]), 10)  # batch 1: one sample per image
            self.assertGreater(row["latency_ms_median"], 0)

    def test_macs_fall_with_the_keep_rate(self):
        rows = rows_by_setting(self.doc)
        dense = self.doc["dense"]["macs_per_image"]
        self.assertAlmostEqual(dense / 1e9, 1.254, delta=0.001)  # SPEC 1: DeiT-Ti at 224
        for mask in ("learned", "oracle", "window"):
            macs = [rows[(mask, r)]["macs_per_image"] for r in (1.0, 0.5, 0.25, 0.1)]
            mhsa = [rows[(mask, r)]["mhsa_macs_per_image"] for r in (1.0, 0.5, 0.25, 0.1)]
            self.assertEqual(macs[0], dense)  # a budget of every key is dense attention
            # Oracle pays a dense q.k to pick its keys, so below 1.0 it starts above dense; from
            # there on, fewer kept keys must cost strictly fewer MACs for every source.
            for a, b in zip(macs[1:], macs[2:]):
                self.assertGreater(a, b, mask)
            for a, b in zip(mhsa[1:], mhsa[2:]):
                self.assertGreater(a, b, mask)
            if mask != "oracle":
                self.assertGreater(macs[0], macs[1], mask)

    def test_keep_rate_one_agrees_with_dense(self):
        rows = rows_by_setting(self.doc)
        for mask in ("learned", "oracle", "window"):
            row = rows[(mask, 1.0)]
            self.assertEqual(row["top1_agreement"], 1.0)
            self.assertEqual(row["kl_mean_nats"], 0.0)
            self.assertEqual(row["top1_correct"], self.doc["dense"]["top1_correct"])

    def test_dense_accuracy_matches_the_pytorch_reference(self):
        dump = os.path.join(BUILD_DIR, "tests", "preprocess_dump")
        if not os.path.exists(dump):
            self.skipTest("preprocess_dump test tool not built (%s)" % dump)
        sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "reference"))
        import torch
        import deit_ref
        tensors, _ = deit_ref.load_safetensors(self.model)
        model = deit_ref.DeiT(deit_ref.deit_config("deit_tiny", num_classes=10)).load_state(tensors)
        images = fixture_images()
        pixels = []
        for i, (path, _) in enumerate(images):
            out = os.path.join(self.tmp, "pixels_%d.bin" % i)
            subprocess.run([dump, path, "224", "0.875", out], check=True, timeout=TIMEOUT_S)
            with open(out, "rb") as f:
                raw = f.read()
            w, h = struct.unpack("<ii", raw[:8])
            pixels.append(np.frombuffer(raw[8:8 + w * h * 3], dtype=np.uint8).reshape(h, w, 3))
        with torch.no_grad():
            logits = model(torch.stack([deit_ref.preprocess_pixels(p) for p in pixels])).numpy()
        top1 = top5 = 0
        for (path, label), z in zip(images, logits):
            order = np.argsort(-z, kind="stable")
            # The engine is float32: a near-tie between the reference's top classes could flip.
            margin = z[order[0]] - z[order[1]]
            cut = z[order[4]] - z[order[5]]
            self.assertGreater(min(margin, cut), 1e-4 * np.abs(z).max(), "near-tie in %s: pick another seed" % path)
            top1 += order[0] == label
            top5 += label in order[:5]
        dense = self.doc["dense"]
        self.assertEqual(dense["labelled"], 10)
        self.assertEqual(dense["top1_correct"], top1)
        self.assertEqual(dense["top5_correct"], top5)
        self.assertEqual(dense["top1_accuracy"], top1 / 10)
        print("dense reference: top-1 %d/10, top-5 %d/10" % (top1, top5))

    def test_sparse_accuracy_matches_classify(self):
        rows = rows_by_setting(self.doc)
        images = fixture_images()
        for mask, rate in (("learned", 0.25), ("oracle", 0.1), ("window", 0.25)):
            out = json.loads(run(["classify", "-m", self.model, "--mask", mask, "--keep-rate", str(rate), "--top", "5",
                                  "--json"] + [p for p, _ in images]).stdout)
            top1 = sum(r["top"][0]["class"] == label for r, (_, label) in zip(out["results"], images))
            top5 = sum(label in [t["class"] for t in r["top"]] for r, (_, label) in zip(out["results"], images))
            row = rows[(mask, rate)]
            self.assertEqual((row["top1_correct"], row["top5_correct"]), (top1, top5), (mask, rate))

    def test_list_file_equals_folder(self):
        listing = os.path.join(self.tmp, "list.txt")
        with open(listing, "w") as f:
            f.write("# path label\n")
            for path, label in fixture_images():
                f.write("%s %d\n" % (os.path.relpath(path, self.tmp), label))
        doc = sweep_json(["-m", self.model, "--data", listing, "--keep-rates", "1.0,0.5,0.25,0.1",
                          "--mask", "learned,oracle,window"])
        self.assertEqual(doc["data"]["kind"], "list")
        assert_same_results(self, doc, self.doc)

    def test_plain_paths_have_no_accuracy(self):
        paths = [p for p, _ in fixture_images()[:3]]
        doc = sweep_json(["-m", self.model, "--images"] + paths + ["--keep-rates", "0.5", "--mask", "window"])
        row = doc["settings"][0]
        self.assertFalse(doc["data"]["labelled"])
        self.assertEqual(row["labelled"], 0)
        self.assertIsNone(row["top1_accuracy"])
        self.assertIsNotNone(row["top1_agreement"])
        self.assertEqual(row["images"], 3)

    def test_limit_and_shard_select_images(self):
        doc = sweep_json(["-m", self.model, "--data", FIXTURE, "--limit", "7", "--shard", "2/3",
                          "--keep-rates", "0.5", "--mask", "window"])
        self.assertEqual(doc["data"]["images_selected"], 7)
        self.assertEqual(doc["shard"], {"index": 2, "count": 3, "images": 2})  # images 1 and 4 of 0..6

    def test_unreadable_image_is_reported_skipped_and_counted(self):
        folder = os.path.join(self.tmp, "with_broken")
        shutil.copytree(FIXTURE, folder)
        with open(os.path.join(folder, "blobs", "broken.png"), "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\nthis is not a png")
        result = run(["sweep", "--json", "--quiet", "-m", self.model, "--data", folder, "--keep-rates", "0.5",
                      "--mask", "window"], expect_rc=1)
        doc = json.loads(result.stdout)
        self.assertEqual(doc["images"], {"attempted": 11, "ok": 10, "failed": 1})
        self.assertEqual(len(doc["errors"]), 1)
        self.assertTrue(doc["errors"][0]["file"].endswith("broken.png"))
        self.assertIn("broken.png", result.stderr)
        self.assertEqual(doc["settings"][0]["images"], 10)

    def test_bad_inputs_give_one_line_errors(self):
        empty = os.path.join(self.tmp, "empty")
        os.makedirs(empty, exist_ok=True)
        cases = [
            (["--data", empty], 2, "empty"),
            (["--data", os.path.join(self.tmp, "nowhere")], 2, "no such file"),
            (["--data", FIXTURE, "--shard", "4/3"], 2, "--shard"),
            (["--data", FIXTURE, "--keep-rates", "0.5,abc"], 2, "abc"),
            (["--data", FIXTURE, "--mask", "psychic"], 2, "psychic"),
            (["--data", FIXTURE, "--images", "x.png"], 2, "exactly one"),
        ]
        for extra, rc, needle in cases:
            result = run(["sweep", "--quiet", "-m", self.model] + extra, expect_rc=rc)
            lines = result.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, result.stderr)
            self.assertIn(needle, lines[0])
        result = run(["sweep", "-m", os.path.join(self.tmp, "missing.safetensors"), "--data", FIXTURE], expect_rc=3)
        self.assertEqual(len(result.stderr.strip().splitlines()), 1)

    def test_interrupted_sweep_leaves_valid_partial_json(self):
        listing = os.path.join(self.tmp, "long_list.txt")
        with open(listing, "w") as f:
            for _ in range(40):
                for path, label in fixture_images():
                    f.write("%s %d\n" % (path, label))
        proc = subprocess.Popen([BIN, "sweep", "--json", "--progress", "-m", self.model, "--data", listing,
                                 "--keep-rates", "0.5", "--mask", "window"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # The first progress line comes after the first image: the sweep is under way.
        first = proc.stderr.readline()
        self.assertIn("sweep: 1/400", first)
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=TIMEOUT_S)
        self.assertEqual(proc.returncode, 130)
        doc = json.loads(out)
        self.assertTrue(doc["partial"])
        done = doc["images"]["attempted"]
        self.assertTrue(0 < done < 400, done)
        self.assertEqual(doc["dense"]["images"], done)
        self.assertEqual(doc["settings"][0]["images"], done)

    @unittest.skipUnless(os.path.exists(FASHION_DIR), "Debian's dataset-fashion-mnist is not installed")
    def test_fashion_mnist(self):
        doc = sweep_json(["-m", self.model, "--data", "fashion-mnist", "--limit", "4", "--keep-rates", "0.5",
                          "--mask", "window"])
        self.assertEqual(doc["data"]["kind"], "fashion-mnist")
        self.assertEqual(doc["data"]["images_in_source"], 10000)
        self.assertEqual(doc["data"]["classes"], 10)
        # The same four images written as grey PNGs and classified one by one must score the same:
        # this checks the IDX reading, the labels and the grey -> RGB -> preprocess path.
        with gzip.open(os.path.join(FASHION_DIR, "t10k-images-idx3-ubyte.gz")) as f:
            raw = f.read()
        with gzip.open(os.path.join(FASHION_DIR, "t10k-labels-idx1-ubyte.gz")) as f:
            labels = list(f.read()[8:12])
        from PIL import Image
        paths = []
        for i in range(4):
            grey = np.frombuffer(raw[16 + i * 784:16 + (i + 1) * 784], dtype=np.uint8).reshape(28, 28)
            paths.append(os.path.join(self.tmp, "fashion_%d.png" % i))
            Image.fromarray(grey, mode="L").save(paths[-1])
        out = json.loads(run(["classify", "-m", self.model, "--mask", "window", "--keep-rate", "0.5", "--top", "5",
                              "--json"] + paths).stdout)
        top1 = sum(r["top"][0]["class"] == label for r, label in zip(out["results"], labels))
        top5 = sum(label in [t["class"] for t in r["top"]] for r, label in zip(out["results"], labels))
        row = doc["settings"][0]
        self.assertEqual((row["labelled"], row["top1_correct"], row["top5_correct"]), (4, top1, top5))


if __name__ == "__main__":
    unittest.main(verbosity=2)
