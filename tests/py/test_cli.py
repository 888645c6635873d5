"""The command line as a user meets it: messages, exit codes (cli/EXIT_CODES.md), stdout/stderr discipline."""
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, SOURCE_DIR as SOURCE, sparsifiner, TempDirTestCase  # noqa: E402
SAMPLES = os.path.join(SOURCE, "datasets", "samples", "photos")
MAKE_RANDOM = os.path.join(SOURCE, "weights", "make_random_model.py")


def run(*args):  # this file checks every exit code itself
    return sparsifiner(args, expect_rc=None)


@unittest.skipUnless(BIN and os.path.exists(BIN), "SPARSIFINER_BIN not set")
class CliTest(TempDirTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.deit = os.path.join(cls.tmp.name, "deit_tiny.safetensors")
        cls.spars = os.path.join(cls.tmp.name, "spars_tiny.safetensors")
        subprocess.run([sys.executable, MAKE_RANDOM, "--arch", "deit_tiny", "--seed", "3", "-o", cls.deit], check=True)
        subprocess.run([sys.executable, MAKE_RANDOM, "--arch", "deit_tiny", "--sparsifiner", "--seed", "4",
                        "-o", cls.spars], check=True)
        cls.cat = os.path.join(SAMPLES, "chelsea.png")

    def assert_one_line_error(self, result, code, *needles):
        self.assertEqual(result.returncode, code, result.stderr)
        self.assertEqual(result.stdout, "", "nothing on stdout after an error")
        lines = result.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, result.stderr)
        for needle in needles:
            self.assertIn(needle, lines[0])

    def test_help_exits_zero_and_lists_flags(self):
        result = run("classify", "--help")
        self.assertEqual(result.returncode, 0)
        for flag in ("--top", "--batch", "--threads", "--crop-pct", "--json", "--logits", "--mask", "--keep-rate",
                     "--prune-at", "--token-keep", "--budget-rule", "--dump-masks"):
            self.assertIn(flag, result.stdout)

    def test_unknown_flag_is_a_usage_error(self):
        self.assert_one_line_error(run("classify", "-m", self.deit, self.cat, "--no-such-flag"), 2, "--no-such-flag")

    def test_missing_subcommand_is_a_usage_error(self):
        self.assertEqual(run().returncode, 2)

    def test_bad_values_are_usage_errors(self):
        self.assert_one_line_error(run("classify", "-m", self.deit, self.cat, "--batch", "0"), 2, "--batch")
        self.assert_one_line_error(run("classify", "-m", self.deit, self.cat, "--mask", "oracle", "--keep-rate",
                                       "1.5"), 2, "--keep-rate")
        self.assert_one_line_error(run("classify", "-m", self.deit, self.cat, "--mask", "magic"), 2, "--mask")
        self.assert_one_line_error(run("classify", "-m", self.deit, self.cat, "--mask", "oracle", "--budget-rule",
                                       "tokens"), 2, "--budget-rule")
        self.assert_one_line_error(run("bench", "-m", self.deit, "--batch", "1,x"), 2, "--batch")
        self.assert_one_line_error(run("classify", "-m", self.deit, self.cat, "--img-size", "100"), 2,
                                   "multiple of the patch")

    def test_missing_model(self):
        missing = os.path.join(self.tmp.name, "nope.safetensors")
        self.assert_one_line_error(run("classify", "-m", missing, self.cat), 3, missing)
        self.assert_one_line_error(run("info", "-m", missing), 3, missing)

    def test_unreadable_image_is_reported_and_the_others_classified(self):
        bad = os.path.join(self.tmp.name, "broken.jpg")
        with open(bad, "wb") as f:
            f.write(b"\xff\xd8\xff\xe0 this is not really a jpeg")
        missing = os.path.join(self.tmp.name, "missing.png")
        result = run("classify", "-m", self.deit, bad, self.cat, missing, "--json", "--batch", "2")
        self.assertEqual(result.returncode, 1)
        doc = json.loads(result.stdout)
        self.assertEqual([r["file"] for r in doc["results"]], [self.cat])
        self.assertEqual(sorted(e["file"] for e in doc["errors"]), sorted([bad, missing]))
        stderr_lines = result.stderr.strip().splitlines()
        self.assertEqual(len(stderr_lines), 2, result.stderr)
        self.assertTrue(any(bad in line for line in stderr_lines))
        self.assertTrue(any(missing in line for line in stderr_lines))

    def test_table_and_json_agree(self):
        table = run("classify", "-m", self.deit, SAMPLES, "--top", "3")
        self.assertEqual(table.returncode, 0, table.stderr)
        doc = json.loads(run("classify", "-m", self.deit, SAMPLES, "--top", "3", "--json").stdout)
        self.assertEqual(doc["schema_version"], 1)
        self.assertEqual(len(doc["results"]), 3)  # chelsea.png, coffee.png, rocket.jpg
        for result in doc["results"]:
            self.assertIn(result["file"], table.stdout)
            self.assertEqual(len(result["top"]), 3)
            probs = [t["prob"] for t in result["top"]]
            self.assertEqual(probs, sorted(probs, reverse=True))
            self.assertIn(result["top"][0]["label"], table.stdout)

    def test_batching_does_not_change_results(self):
        one = json.loads(run("classify", "-m", self.deit, SAMPLES, "--json", "--logits").stdout)
        three = json.loads(run("classify", "-m", self.deit, SAMPLES, "--json", "--logits", "--batch", "3",
                               "--threads", "2").stdout)
        for a, b in zip(one["results"], three["results"]):
            self.assertEqual(a["file"], b["file"])
            diff = max(abs(x - y) for x, y in zip(a["logits"], b["logits"]))
            self.assertLess(diff, 1e-4 * max(abs(x) for x in a["logits"]))

    def test_learned_masks_need_sparsifiner_weights_and_their_token_count(self):
        self.assert_one_line_error(run("classify", "-m", self.deit, self.cat, "--mask", "learned"), 2,
                                   "oracle")
        self.assert_one_line_error(run("classify", "-m", self.spars, self.cat, "--img-size", "256"), 2,
                                   "oracle", "window")
        # The same size with a mask that needs no predictor works.
        result = run("classify", "-m", self.spars, self.cat, "--img-size", "256", "--mask", "window")
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_info_json(self):
        doc = json.loads(run("info", "-m", self.deit, "--json").stdout)
        self.assertEqual(doc["model"]["embed_dim"], 192)
        self.assertEqual(doc["model"]["tokens"], 197)
        self.assertAlmostEqual(doc["macs"]["total"] / 1e9, 1.254, places=3)  # SPEC 1's table


if __name__ == "__main__":
    unittest.main()
