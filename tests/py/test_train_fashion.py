"""weights/train_fashion.py on a few images (issue 6): all three stages, resuming, a warm restart
from an earlier run's dense.pth (--init-from), and checkpoints that weights/convert.py and the tool
take.

Training on 128 images learns nothing worth measuring; what is checked is the mechanics the bundled
models depend on: per-epoch log lines, the checkpoint layout, that a continued run starts from the
earlier weights and records where they came from, and that a run interrupted (--stop-after) and
resumed ends with exactly the weights of a run that went straight through.
"""
import json
import os
import subprocess
import sys
import unittest

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, SOURCE_DIR, run as run_command, TempDirTestCase  # noqa: E402
TRAIN = os.path.join(SOURCE_DIR, "weights", "train_fashion.py")
CONVERT = os.path.join(SOURCE_DIR, "weights", "convert.py")
FASHION = "/usr/share/datasets/fashion-mnist"
LIMIT = ["--limit", "128", "--depth", "2"]
TIMEOUT_S = 600


def train(*args, expect_ok=True):
    done = subprocess.run([sys.executable, TRAIN, *args], capture_output=True, text=True, timeout=TIMEOUT_S)
    if expect_ok and done.returncode != 0:
        raise AssertionError("train_fashion.py %s failed:\n%s" % (" ".join(args), done.stderr[-3000:]))
    return done


def log_lines(run):
    with open(os.path.join(run, "log.jsonl")) as f:
        return [json.loads(line) for line in f]


def load(path):
    return torch.load(path, weights_only=False)


@unittest.skipUnless(os.path.isdir(FASHION), "Debian's dataset-fashion-mnist is not installed")
class TrainFashionTest(TempDirTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.first = os.path.join(cls.tmp.name, "first")
        train("--run", cls.first, "--epochs-dense", "2", *LIMIT)

    def test_stages_log_and_layout(self):
        stages = [(line["stage"], line["epoch"]) for line in log_lines(self.first)]
        self.assertEqual(stages, [("dense", 1), ("dense", 2), ("predictor", 1), ("finetune", 1), ("finetune", 2)])
        dense, final = load(os.path.join(self.first, "dense.pth")), load(os.path.join(self.first, "sparsifiner.pth"))
        for checkpoint in (dense, final):
            self.assertTrue({"model", "args", "epoch", "class_names"} <= set(checkpoint))
        self.assertFalse(any(".mask_predictor." in key for key in dense["model"]))
        self.assertTrue(any(".mask_predictor." in key for key in final["model"]))
        self.assertNotIn("init_from", vars(dense["args"]))

    def test_interrupted_run_resumes_to_the_straight_run(self):
        # The first run, interrupted by --stop-after inside the dense stage (after epoch 1) and at
        # the dense/predictor boundary (after epoch 2), then resumed to the end, must end with
        # exactly the straight run's weights: same data order, augmentations and schedule.
        run = os.path.join(self.tmp.name, "interrupted")
        done = train("--run", run, "--epochs-dense", "2", "--stop-after", "1", *LIMIT)
        self.assertIn("stopping in stage dense", done.stderr)
        self.assertFalse(os.path.exists(os.path.join(run, "dense.pth")))
        done = train("--run", run, "--resume", "--stop-after", "1", *LIMIT)
        self.assertIn("stopping after stage dense", done.stderr)
        self.assertTrue(os.path.exists(os.path.join(run, "dense.pth")))
        self.assertFalse(os.path.exists(os.path.join(run, "sparsifiner.pth")))
        train("--run", run, "--resume", *LIMIT)
        self.assertEqual([(l["stage"], l["epoch"]) for l in log_lines(run)],
                         [(l["stage"], l["epoch"]) for l in log_lines(self.first)])
        for name in ("dense.pth", "sparsifiner.pth"):
            straight, resumed = (load(os.path.join(r, name))["model"] for r in (self.first, run))
            self.assertEqual(straight.keys(), resumed.keys())
            for key in straight:
                self.assertTrue(torch.equal(straight[key], resumed[key]), "%s %s" % (name, key))

    def test_warm_restart_from_an_earlier_dense_model(self):
        run = os.path.join(self.tmp.name, "continued")
        earlier = os.path.join(self.first, "dense.pth")
        done = train("--run", run, "--init-from", earlier, "--epochs-dense", "1", "--epochs-finetune", "1", *LIMIT)
        self.assertIn("dense stage starts from dense.pth", done.stderr)
        args = vars(load(os.path.join(run, "dense.pth"))["args"])
        self.assertEqual(args["round"], 1)
        self.assertEqual(args["epochs_dense"], 1)
        self.assertEqual(args["lr_dense"], 3e-4)
        history = args["init_from"]
        self.assertEqual(history["path"], "dense.pth")
        self.assertEqual(history["epochs"], 2)
        self.assertEqual(history["epochs_dense"], 2)
        self.assertEqual(history["lr_dense"], 1e-3)
        # The first epoch's loss starts from a trained model, not from scratch: below the first
        # run's first-epoch loss.
        first_loss = log_lines(self.first)[0]["train_loss"]
        continued_loss = log_lines(run)[0]["train_loss"]
        self.assertLess(continued_loss, first_loss)
        # The continued checkpoint converts and the tool loads it.
        out = os.path.join(run, "continued.safetensors")
        subprocess.run([sys.executable, CONVERT, os.path.join(run, "sparsifiner.pth"), "-o", out],
                       check=True, capture_output=True, timeout=TIMEOUT_S)
        info = run_command([BIN, "info", "-m", out], timeout=TIMEOUT_S)
        self.assertEqual(info.returncode, 0, info.stderr)
        self.assertIn("predictor", info.stdout)

    def test_bad_inputs_are_refused(self):
        # A finished run directory is not overwritten by a new run of either kind.
        for extra in ([], ["--init-from", os.path.join(self.first, "dense.pth")]):
            done = train("--run", self.first, *extra, *LIMIT, expect_ok=False)
            self.assertNotEqual(done.returncode, 0)
            self.assertIn("exists; pass --resume", done.stderr)
        # --init-from needs a dense.pth of this script, not the final checkpoint.
        done = train("--run", os.path.join(self.tmp.name, "bad"), "--init-from",
                     os.path.join(self.first, "sparsifiner.pth"), *LIMIT, expect_ok=False)
        self.assertNotEqual(done.returncode, 0)
        self.assertIn("not a dense.pth written by this script", done.stderr)


if __name__ == "__main__":
    unittest.main()
