"""Outputs that cannot be written (issue 18): a full stdout, a full disk under an output file, an
output path that is wrong from the start. Each is one line on stderr and a non-zero exit, no
partial or temporary file is left, and a bad path fails before the work. Also: weights holding
NaN, file names that are not UTF-8 in JSON, convert.py's -o checks."""
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import unittest

import numpy as np

BIN = os.environ.get("SPARSIFINER_BIN", "")
SOURCE = os.environ.get("SPARSIFINER_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
SAMPLE = os.path.join(SOURCE, "datasets", "samples", "0000_ankle-boot.png")
SWEEP_FOLDER = os.path.join(SOURCE, "tests", "data", "sweep_folder")
sys.path.insert(0, os.path.join(SOURCE, "weights"))
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402


def run(*args, file_size_limit=None, stdout=subprocess.PIPE):
    def limit():
        # A full disk, simulated: writes past the limit fail with EFBIG instead of killing us.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))
    return subprocess.run([BIN, *args], stdout=stdout, stderr=subprocess.PIPE, timeout=300,
                          preexec_fn=limit if file_size_limit is not None else None)


@unittest.skipUnless(BIN and os.path.exists(BIN), "SPARSIFINER_BIN not set")
class OutputFailuresTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def assert_one_line(self, result, code, *needles):
        self.assertEqual(result.returncode, code, result.stderr)
        lines = result.stderr.decode(errors="replace").strip().splitlines()
        # The note naming the bundled model (no -m given) is information, not part of the error.
        lines = [line for line in lines if not line.startswith("sparsifiner: no -m given")]
        self.assertEqual(len(lines), 1, result.stderr)
        for needle in needles:
            self.assertIn(needle, lines[0])

    def assert_folder_holds(self, names):
        self.assertEqual(sorted(os.listdir(self.dir)), sorted(names), "no partial or temporary file")

    def test_full_stdout_is_an_error(self):
        for args in (["classify", SAMPLE], ["classify", SAMPLE, "--json"], ["info"], ["info", "--json"]):
            with open("/dev/full", "wb") as full:
                result = run(*args, stdout=full)
            self.assert_one_line(result, 4, "stdout", "write failed")

    def test_full_disk_under_visualize_leaves_nothing(self):
        out = os.path.join(self.dir, "attention.png")
        result = run("visualize", SAMPLE, "--layer", "0", "-o", out, file_size_limit=200)
        self.assert_one_line(result, 4, out)
        self.assertEqual(result.stdout, b"")
        self.assert_folder_holds([])
        # The same command with room to write: the file is there, complete, under its name.
        result = run("visualize", SAMPLE, "--layer", "0", "-o", out)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assert_folder_holds(["attention.png"])
        with open(out, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")

    def test_full_disk_under_dumps_and_sweep_outputs_leaves_nothing_partial(self):
        dump = os.path.join(self.dir, "acts")
        result = run("classify", SAMPLE, "--dump-activations", dump, file_size_limit=300)
        self.assertEqual(result.returncode, 4, result.stderr)
        self.assertEqual(os.listdir(dump), [], "no partial .npy file")
        plot, csv = os.path.join(self.dir, "p.svg"), os.path.join(self.dir, "p.csv")
        result = run("sweep", "--data", SWEEP_FOLDER, "--keep-rates", "0.5", "--plot", plot,
                     "--predictions", csv, file_size_limit=100)
        self.assertEqual(result.returncode, 4, result.stderr)
        self.assert_folder_holds(["acts"])

    def test_bad_output_paths_fail_before_the_work(self):
        missing = os.path.join(self.dir, "no", "such", "plot.svg")
        result = run("sweep", "--data", SWEEP_FOLDER, "--keep-rates", "0.5", "--plot", missing)
        self.assert_one_line(result, 4, missing)
        self.assertNotIn(b"images/s", result.stderr, "refused before any image was run")
        self.assertEqual(result.stdout, b"")
        result = run("sweep", "--data", SWEEP_FOLDER, "--predictions", self.dir)
        self.assert_one_line(result, 4, "is a folder")
        result = run("visualize", SAMPLE, "--layer", "0", "-o", os.path.join(self.dir, "none", "x.png"))
        self.assert_one_line(result, 4, "none")
        blocker = os.path.join(self.dir, "file")
        open(blocker, "w").close()
        result = run("classify", SAMPLE, "--dump-masks", os.path.join(blocker, "masks"))
        self.assert_one_line(result, 4, blocker)

    def test_devices_are_written_in_place(self):
        result = run("visualize", SAMPLE, "--layer", "0", "-o", "/dev/null")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertTrue(os.path.exists("/dev/null") and not os.path.isfile("/dev/null"))
        result = run("visualize", SAMPLE, "--layer", "0", "-o", "/dev/full")
        self.assert_one_line(result, 4, "/dev/full")
        self.assertFalse(os.path.isfile("/dev/full"), "the device node is never replaced")

    def test_file_names_that_are_not_utf8_stay_json(self):
        bad = os.path.join(self.dir.encode(), b"caf\xe9.png")
        with open(bad, "wb") as f:
            f.write(b"not an image")
        good = os.path.join(self.dir, "good.png")
        with open(SAMPLE, "rb") as src, open(good, "wb") as dst:
            dst.write(src.read())
        result = subprocess.run([BIN.encode(), b"classify", b"--json", bad, good.encode()], capture_output=True,
                                timeout=300)
        self.assertEqual(result.returncode, 1, result.stderr)
        document = json.loads(result.stdout)
        self.assertEqual(len(document["results"]), 1)
        self.assertEqual(len(document["errors"]), 1)
        self.assertIn("caf\ufffd.png", document["errors"][0]["file"])

    def test_nan_weights_are_refused_by_name(self):
        bundled = os.path.join(SOURCE, "weights", "models", "fashion_dense.safetensors")
        tensors, meta = read_safetensors(bundled)
        for value, label in ((np.nan, "nan"), (np.inf, "inf")):
            poisoned = dict(tensors)
            weight = poisoned["blocks.1.mlp.fc1.weight"].astype(np.float32).copy()
            weight[3, 5] = value
            poisoned["blocks.1.mlp.fc1.weight"] = weight
            path = os.path.join(self.dir, label + ".safetensors")
            write_safetensors(path, poisoned, meta)
            result = run("classify", "-m", path, SAMPLE)
            self.assert_one_line(result, 3, path, "blocks.1.mlp.fc1.weight", "NaN or infinite")
            self.assertEqual(result.stdout, b"")

    def test_overflowing_weights_give_no_nan_probabilities(self):
        bundled = os.path.join(SOURCE, "weights", "models", "fashion_dense.safetensors")
        tensors, meta = read_safetensors(bundled)
        huge = dict(tensors)
        huge["head.weight"] = np.full_like(tensors["head.weight"].astype(np.float32), 3e38)
        path = os.path.join(self.dir, "huge.safetensors")
        write_safetensors(path, huge, meta)
        result = run("classify", "-m", path, SAMPLE, "--json")
        self.assert_one_line(result, 4, path, "NaN or infinite logits")
        self.assertEqual(result.stdout, b"")

    def test_convert_output_checks(self):
        convert = os.path.join(SOURCE, "weights", "convert.py")
        result = subprocess.run([sys.executable, convert, os.path.join(self.dir, "missing.pth"), "-o", self.dir],
                                capture_output=True, text=True, timeout=120)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("is a folder", result.stderr)
        self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)
        self.assert_folder_holds([])
        # write_safetensors on a full disk: the error propagates and no temporary file stays.
        target = os.path.join(self.dir, "m.safetensors")
        code = ("import resource, signal, sys, numpy as np; sys.path.insert(0, %r); "
                "from safetensors_io import write_safetensors; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
                "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096)); "
                "write_safetensors(%r, {'w': np.zeros(100000, np.float32)}, {})"
                % (os.path.join(SOURCE, "weights"), target))
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        self.assertNotEqual(result.returncode, 0)
        self.assert_folder_holds([])


if __name__ == "__main__":
    unittest.main()
