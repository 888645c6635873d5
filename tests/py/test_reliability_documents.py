"""Documents and metadata from elsewhere (issue 18): merge refuses malformed shard documents with
one line naming the file; an ambiguous image folder is refused; control characters in model
metadata never reach the terminal raw."""
import json
import os
import subprocess
import sys
import unittest

BIN = os.environ.get("SPARSIFINER_BIN", "")
SOURCE = os.environ.get("SPARSIFINER_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
SWEEP_FOLDER = os.path.join(SOURCE, "tests", "data", "sweep_folder")
sys.path.insert(0, os.path.join(SOURCE, "weights"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TempDirTestCase  # noqa: E402
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402


def run(*args):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=300)


@unittest.skipUnless(BIN and os.path.exists(BIN), "SPARSIFINER_BIN not set")
class DocumentsTest(TempDirTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.parts = []
        for i in (1, 2):
            result = run("sweep", "--data", SWEEP_FOLDER, "--keep-rates", "0.5", "--shard", "%d/2" % i, "--json")
            assert result.returncode == 0, result.stderr
            cls.parts.append(json.loads(result.stdout))

    def write(self, name, document):
        path = os.path.join(self.tmp.name, name)
        with open(path, "w") as f:
            json.dump(document, f)
        return path

    def assert_one_line(self, result, *needles):
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertEqual(result.stdout, "")
        lines = result.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, result.stderr)
        for needle in needles:
            self.assertIn(needle, lines[0])

    def test_merge_of_good_parts_works(self):
        result = run("merge", self.write("a.json", self.parts[0]), self.write("b.json", self.parts[1]))
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_sweep_records_the_weights_sha256_and_merge_refuses_other_weights_under_one_name(self):
        import hashlib
        import shutil
        bundled = os.path.join(SOURCE, "weights", "models", "fashion_sparsifiner.safetensors")
        model = os.path.join(self.tmp.name, "model.safetensors")
        shutil.copyfile(bundled, model)
        with open(model, "rb") as f:
            want = hashlib.sha256(f.read()).hexdigest()
        first = run("sweep", "-m", model, "--data", SWEEP_FOLDER, "--keep-rates", "0.5", "--shard", "1/2", "--json")
        self.assertEqual(first.returncode, 0, first.stderr)
        self.assertEqual(json.loads(first.stdout)["model"]["sha256"], want)
        # Other weights under the same file name: one changed value of the head's bias.
        tensors, meta = read_safetensors(model)
        tensors["head.bias"] = tensors["head.bias"].copy()
        tensors["head.bias"][0] += 0.5
        write_safetensors(model, tensors, meta)
        second = run("sweep", "-m", model, "--data", SWEEP_FOLDER, "--keep-rates", "0.5", "--shard", "2/2", "--json")
        self.assertEqual(second.returncode, 0, second.stderr)
        a = self.write("sha_a.json", json.loads(first.stdout))
        b = self.write("sha_b.json", json.loads(second.stdout))
        other = json.loads(second.stdout)["model"]["sha256"]
        self.assertNotEqual(other, want)
        self.assert_one_line(run("merge", a, b), b, "SHA-256", want, other, a)

    def test_merge_refuses_a_relabelled_setting(self):
        relabelled = json.loads(json.dumps(self.parts[1]))
        relabelled["settings"][0]["setting"] = "learned@0.9"
        path = self.write("relabelled.json", relabelled)
        self.assert_one_line(run("merge", self.write("a.json", self.parts[0]), path), path, "setting 0 differs")

    def test_merge_refuses_missing_fields(self):
        for field in ("shard", "dense", "settings", "images", "errors", "partial"):
            broken = json.loads(json.dumps(self.parts[1]))
            del broken[field]
            path = self.write("no_%s.json" % field, broken)
            self.assert_one_line(run("merge", self.write("a.json", self.parts[0]), path), path)
        broken = json.loads(json.dumps(self.parts[1]))
        del broken["shard"]["count"]
        path = self.write("no_count.json", broken)
        self.assert_one_line(run("merge", self.write("a.json", self.parts[0]), path), path, "shard.count")

    def test_merge_bounds_counts(self):
        for count in (10 ** 9, 2 ** 31 - 1, 2 ** 40):
            broken = json.loads(json.dumps(self.parts[0]))
            broken["shard"]["count"] = count
            path = self.write("count.json", broken)
            self.assert_one_line(run("merge", path, self.write("b.json", self.parts[1])), path)
        broken = json.loads(json.dumps(self.parts[0]))
        broken["images"]["attempted"] = "many"
        path = self.write("text.json", broken)
        self.assert_one_line(run("merge", path, self.write("b.json", self.parts[1])), path, "images.attempted")

    def test_ambiguous_image_folder_is_refused(self):
        samples = os.path.join(SOURCE, "datasets", "samples")
        self.assert_one_line(run("sweep", "--data", samples), samples, "ambiguous", "--images")

    def test_control_characters_in_metadata_are_escaped_in_tables(self):
        bundled = os.path.join(SOURCE, "weights", "models", "fashion_dense.safetensors")
        tensors, meta = read_safetensors(bundled)
        meta = dict(meta)
        meta["arch"] = "deit\x1b]0;owned\x07\x1b[2J"
        names = json.loads(meta["class_names"])
        names[9] = "boot\x1b[2J\u009b"
        meta["class_names"] = json.dumps(names)
        path = os.path.join(self.tmp.name, "hostile.safetensors")
        write_safetensors(path, tensors, meta)
        info = run("info", "-m", path)
        self.assertEqual(info.returncode, 0, info.stderr)
        classify = run("classify", "-m", path, os.path.join(SOURCE, "datasets", "samples", "0000_ankle-boot.png"),
                       "--top", "10")
        self.assertEqual(classify.returncode, 0, classify.stderr)
        for out in (info.stdout, classify.stdout):
            self.assertNotIn("\x1b", out)
            self.assertNotIn("\x07", out)
            self.assertNotIn("\u009b", out)
        self.assertIn("deit\\x1b]0;owned\\x07", info.stdout)
        self.assertIn("boot\\x1b[2J\\x9b", classify.stdout)


if __name__ == "__main__":
    unittest.main()
