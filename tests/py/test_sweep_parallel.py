"""Sharded sweeps with GNU parallel: 4 shards run concurrently, `sparsifiner merge` combines them,
and the result equals the unsharded run (counts, MAC sums and accuracies exactly, KL up to
summation order, latency samples pooled). Also: merge refuses a missing or a repeated shard.

This is the recipe of docs/usage.md (sweep and merge):
    parallel -j4 'sparsifiner sweep ARGS --shard {}/4 --json --quiet > part_{}.json' ::: 1 2 3 4
    sparsifiner merge part_*.json > sweep.json
"""
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_sweep import BIN, FIXTURE, TIMEOUT_S, assert_same_results, make_model, run, sweep_json  # noqa: E402

PARALLEL = shutil.which("parallel")
SWEEP_ARGS = ["--keep-rates", "1.0,0.25", "--mask", "learned,window", "--threads", "1"]


@unittest.skipIf(BIN is None, "SPARSIFINER_BIN is not set")
@unittest.skipIf(PARALLEL is None, "GNU parallel is not installed (Debian package parallel)")
class SweepParallelTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sweep_parallel_")
        cls.model = make_model(cls.tmp)
        cls.whole = sweep_json(["-m", cls.model, "--data", FIXTURE] + SWEEP_ARGS)
        command = "%s sweep -m %s --data %s %s --shard {}/4 --json --quiet > %s/part_{}.json" % (
            shlex.quote(BIN), shlex.quote(cls.model), shlex.quote(FIXTURE), " ".join(SWEEP_ARGS),
            shlex.quote(cls.tmp))
        subprocess.run([PARALLEL, "--will-cite", "--halt", "now,fail=1", "-j4", command, ":::", "1", "2", "3", "4"],
                       check=True, timeout=TIMEOUT_S)
        cls.parts = [os.path.join(cls.tmp, "part_%d.json" % i) for i in (1, 2, 3, 4)]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_shards_split_the_images(self):
        counts = [json.load(open(p))["shard"]["images"] for p in self.parts]
        self.assertEqual(counts, [3, 3, 2, 2])  # 10 images dealt round-robin

    def test_merged_equals_unsharded(self):
        merged = json.loads(run(["merge"] + self.parts[::-1]).stdout)  # the order of parts does not matter
        self.assertEqual(merged["shard"], self.whole["shard"])
        self.assertEqual(merged["data"], self.whole["data"])
        self.assertFalse(merged["partial"])
        assert_same_results(self, merged, self.whole)

    def test_merge_refuses_incomplete_or_repeated_shards(self):
        result = run(["merge"] + self.parts[:3], expect_rc=2)
        self.assertIn("shard 4/4 is missing", result.stderr)
        result = run(["merge"] + self.parts + self.parts[:1], expect_rc=2)
        self.assertIn("given twice", result.stderr)
        other = json.load(open(self.parts[0]))
        other["options"]["keep_rates"] = "0.5"
        bad = os.path.join(self.tmp, "other.json")
        json.dump(other, open(bad, "w"))
        result = run(["merge", bad] + self.parts[1:], expect_rc=2)
        self.assertIn("differs", result.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
