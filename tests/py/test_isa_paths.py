"""SPARSIFINER_ISA caps the hand-vectorised kernels' path (core/platform/isa.h), and every path
gives the same answers: the test drives the whole binary through each path this CPU has and
compares predictions and logits. A broken cap (the variable ignored) or a path that computes
something else fails here."""
import json
import os
import unittest

import harness

SAMPLES = os.path.join(harness.SOURCE_DIR, "datasets", "samples")
ORDER = ["portable", "avx2", "avx512"]


def classify(isa):
    """The classify document and the kernel path bench reports, with SPARSIFINER_ISA=isa."""
    env = {"SPARSIFINER_ISA": isa}
    classified = harness.sparsifiner(["classify", SAMPLES, "--json", "--logits"], env=env)
    bench = harness.sparsifiner(["bench", "--batch", "1", "--runs", "1", "--warmup", "0", "--json"], env=env)
    return json.loads(classified.stdout), json.loads(bench.stdout)["machine"]["kernel_isa"]


@unittest.skipUnless(harness.have_binary(), "sparsifiner binary not built")
class IsaPaths(unittest.TestCase):
    def test_every_path_agrees_and_the_cap_is_obeyed(self):
        runs = {}
        for isa in ORDER:
            document, used = classify(isa)
            # The cap never raises the path, and the best path the CPU has is used under it.
            self.assertLessEqual(ORDER.index(used), ORDER.index(isa), f"SPARSIFINER_ISA={isa} ran {used}")
            runs[isa] = (document, used)
        self.assertEqual(runs["portable"][1], "portable")
        paths = sorted({used for _, used in runs.values()}, key=ORDER.index)
        self.assertIn("portable", paths)
        reference = runs["portable"][0]["results"]
        for isa, (document, used) in runs.items():
            images = document["results"]
            self.assertEqual(len(images), len(reference))
            for got, want in zip(images, reference):
                self.assertEqual(got["top"][0]["class"], want["top"][0]["class"], f"{isa}: {got['file']}")
                scale = max(abs(v) for v in want["logits"])
                worst = max(abs(a - b) for a, b in zip(got["logits"], want["logits"]))
                # float32 rounding differs between paths (vector sums, exp); the answers may not.
                self.assertLessEqual(worst, 1e-4 * scale, f"{isa} ({used}): {got['file']}")
        print(f"paths compared: {', '.join(paths)}")

    def test_an_unknown_value_is_ignored_with_a_warning(self):
        result = harness.sparsifiner(["bench", "--batch", "1", "--runs", "1", "--warmup", "0"],
                                     env={"SPARSIFINER_ISA": "sse9"})
        self.assertIn("SPARSIFINER_ISA=sse9", result.stderr)


if __name__ == "__main__":
    unittest.main()
