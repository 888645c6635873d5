"""Every field that `profile`, `sweep`, `merge`, `classify`, `info`, `bench` and `compare` emit is
documented in cli/JSON_SCHEMAS.md.

Runs the commands on small random models (profile with --fidelity and learned masks, so that
every optional part appears: predictor, heads, spectra, low-rank; a sweep over a labelled list
file with an unreadable image, so that errors[] and accuracies appear; a merge of two shards),
walks each document and checks every key path (objects by name, lists as `[]`) against the
field column of the document's sections. An undocumented field fails with its path.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SOURCE_DIR, find_binary, sparsifiner, cpu_has_native_bf16  # noqa: E402
DOC = os.path.join(SOURCE_DIR, "cli", "JSON_SCHEMAS.md")
FIXTURE = os.path.join(SOURCE_DIR, "tests", "data", "sweep_folder")

TIMEOUT_S = 300


def documented_fields():
    """-> {section title: [(field pattern, description)]} from the tables of JSON_SCHEMAS.md."""
    sections, title = {}, None
    with open(DOC) as f:
        for line in f:
            if line.startswith("## "):
                title = line[3:].strip()
                sections[title] = []
                continue
            match = re.match(r"\|\s*`([^`]+)`\s*\|[^|]*\|(.*)\|\s*$", line)
            if title and match:
                sections[title].append((match.group(1), match.group(2)))
    return sections


def pattern_regex(field):
    """`*` and `<op>` stand for one key; `<row>` for `dense`, a `settings[]` or a `dtype_compared[]` entry."""
    text = re.escape(field)
    text = text.replace(re.escape("<row>"), r"(?:dense|settings\[\]|dtype_compared\[\])")
    text = text.replace(re.escape("<op>"), r"[^.\[\]]+").replace(re.escape("*"), r"[^.\[\]]+")
    return re.compile(text + r"\Z")


def key_paths(value, prefix=""):
    """Every key path of a JSON value: `a.b` for objects, `a[]` for list elements."""
    if isinstance(value, dict):
        for key, item in value.items():
            path = prefix + "." + key if prefix else key
            yield path
            yield from key_paths(item, path)
    elif isinstance(value, list):
        for item in value:
            yield from key_paths(item, prefix + "[]")


def run(args, expect_rc=0):
    return json.loads(sparsifiner(args, expect_rc, timeout=TIMEOUT_S).stdout)


@unittest.skipIf(find_binary() is None, "SPARSIFINER_BIN not set and no build dir")
class JsonSchemaDocsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sections = documented_fields()
        cls.tmp = tempfile.TemporaryDirectory(prefix="sparsifiner_schema_")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def assert_documented(self, doc, section):
        rows = self.sections["Common to every document"] + self.sections[section]
        patterns = [pattern_regex(field) for field, _ in rows]
        # A list of objects is documented as `name[]`, a list of numbers as `name`: either will do.
        missing = sorted({p for p in key_paths(doc) if not any(r.match(p) or r.match(p + "[]") for r in patterns)})
        self.assertEqual(missing, [], "fields missing from cli/JSON_SCHEMAS.md (section %s)" % section)

    def test_the_checker_catches_an_undocumented_field(self):
        # The walk must see nested fields: an invented one inside a list of objects fails.
        doc = {"schema_version": 1, "layers": [{"block": 0, "made_up_field": 1}]}
        with self.assertRaises(AssertionError):
            self.assert_documented(doc, "profile")

    def test_profile(self):
        doc = run(["profile", "--arch", "deit_tiny", "--img-size", "64", "--random-weights", "--sparsifiner",
                   "--mask", "learned", "--keep-rate", "0.5", "--prune-at", "1", "--token-keep", "0.7",
                   "--repeat", "1", "--warmup", "0", "--json", "--fidelity"])
        self.assertIsNotNone(doc["layers"][0]["heads"][0]["singular_values"]["low_rank"])
        self.assertIn("predictor", doc["layers"][0])
        self.assert_documented(doc, "profile")
        # The op names are keys: each one must be named in the row that introduces them.
        ops_row = dict(self.sections["profile"])["layers[].ops"]
        for op in doc["layers"][0]["ops"]:
            self.assertIn("`%s`" % op, ops_row)

    def test_sweep_and_merge(self):
        model = os.path.join(self.tmp.name, "tiny10.safetensors")
        subprocess.run([sys.executable, os.path.join(SOURCE_DIR, "weights", "make_random_model.py"), "--arch",
                        "deit_tiny", "--num-classes", "10", "--sparsifiner", "--seed", "0", "-o", model],
                       check=True, timeout=TIMEOUT_S)
        listing = os.path.join(self.tmp.name, "list.txt")
        bars = os.path.join(FIXTURE, "bars")
        with open(listing, "w") as f:
            for name in sorted(os.listdir(bars))[:2]:
                f.write("%s 0\n" % os.path.join(bars, name))
            f.write("%s 1\n" % os.path.join(self.tmp.name, "missing.png"))
        args = ["sweep", "-m", model, "--data", listing, "--keep-rates", "0.5", "--mask", "learned", "--json",
                "--quiet"]
        if cpu_has_native_bf16():  # so that dtype_compared[] has a row to check
            args += ["--dtype", "f32,bf16"]
        whole = run(args, expect_rc=1)  # the missing image: reported, skipped, counted
        self.assertEqual(len(whole["errors"]), 1)
        self.assert_documented(whole, "sweep (and merge)")
        parts = []
        for shard in ("1/2", "2/2"):
            path = os.path.join(self.tmp.name, "part%s.json" % shard[0])
            proc = sparsifiner(args + ["--shard", shard], expect_rc=None, timeout=TIMEOUT_S)
            with open(path, "w") as f:
                f.write(proc.stdout)
            parts.append(path)
        merged = run(["merge"] + parts, expect_rc=1)
        self.assertIn("merged_from", merged)
        self.assert_documented(merged, "sweep (and merge)")

    def test_classify(self):
        samples = os.path.join(SOURCE_DIR, "datasets", "samples")
        image = os.path.join(samples, sorted(f for f in os.listdir(samples) if f.endswith(".png"))[0])
        doc = run(["classify", image, os.path.join(self.tmp.name, "missing.png"), "--top", "2", "--truth-from-name",
                   "--logits", "--json"], expect_rc=1)
        self.assertEqual(len(doc["errors"]), 1)
        self.assertIn("logits", doc["results"][0])
        self.assert_documented(doc, "classify")

    def test_info(self):
        doc = run(["info", "--json"])  # the bundled Sparsifiner model: predictor and evaluation appear
        self.assertIn("predictor", doc["model"])
        self.assertIn("trained_keep_rate", doc["macs"])
        # `evaluation` is the file's own free-form record (weights/METADATA.md), documented there.
        self.assertIsInstance(doc["model"]["evaluation"], dict)
        doc["model"]["evaluation"] = {}
        self.assert_documented(doc, "info")

    def test_bench_and_compare(self):
        paths = []
        for mask in (["--mask", "dense"], ["--mask", "window", "--keep-rate", "0.5"]):
            doc = run(["bench", "--batch", "1", "--runs", "3", "--warmup", "0", "--no-peak", "--json"] + mask)
            self.assertEqual(doc["schema_version"], 2)
            # One place for the machine: the old top-level copies are gone.
            for key in ("cpu", "isa", "build", "matmul_peak_gflops"):
                self.assertNotIn(key, doc)
            self.assert_documented(doc, "bench")
            paths.append(os.path.join(self.tmp.name, "bench_%s.json" % mask[1]))
            with open(paths[-1], "w") as f:
                json.dump(doc, f)
        compared = run(["compare"] + paths + ["--json"])
        self.assertEqual(compared["kind"], "bench")
        self.assert_documented(compared, "compare")


if __name__ == "__main__":
    unittest.main()
