"""profile's efficiency against the roofline (issue 15, item 3): every op, part, the patch embedding
and the head carry an `efficiency` object; its rates are its work over its time, its roofline time
follows from the in-run peaks, and its fraction is roofline time over measured time; the table
shows the columns. Nothing here depends on how fast the machine is."""
import json
import math
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, sparsifiner  # noqa: E402

FIELDS = {"macs", "elements", "elements_of", "bytes", "footprint_bytes", "median_ms", "gmacs_per_s",
          "ns_per_element", "gb_per_s", "bound", "level", "roofline_gmacs_per_s", "roofline_gb_per_s",
          "roofline_ms", "fraction"}
BLOCK_OPS = ["ln1", "qkv", "mask", "attention", "proj", "prune", "ln2", "fc1_gelu", "fc2"]


def profile(*args, threads=1):
    return json.loads(sparsifiner(["profile", "--json", "--repeat", "2", "--warmup", "0", "--threads", threads,
                                   *args], timeout=600).stdout)


def close(a, b, rel=1e-9):
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)


@unittest.skipUnless(BIN and os.path.exists(BIN), "SPARSIFINER_BIN not set")
class ProfileRooflineTest(unittest.TestCase):
    def check_roofline(self, roofline, threads):
        self.assertEqual(roofline["threads"], threads)
        self.assertTrue(math.isfinite(roofline["fma_gmacs_per_s"]))
        self.assertGreater(roofline["fma_gmacs_per_s"], 0)
        self.assertEqual([level["level"] for level in roofline["memory"]], ["L1", "L2", "L3", "DRAM"])
        capacities = [level["capacity_bytes"] for level in roofline["memory"]]
        self.assertIsNone(capacities[-1])  # DRAM holds everything
        self.assertEqual(capacities[:-1], sorted(capacities[:-1]))
        for level in roofline["memory"]:
            self.assertTrue(math.isfinite(level["gb_per_s"]), level)
            self.assertGreater(level["gb_per_s"], 0, level)
            self.assertGreater(level["probe_buffer_bytes"], 0, level)

    def check_efficiency(self, e, roofline, where):
        """Rates = work / time, roofline time from the peaks, fraction = roofline / measured."""
        self.assertEqual(set(e), FIELDS, where)
        seconds = e["median_ms"] / 1e3
        for work, rate, scale in (("macs", "gmacs_per_s", 1e9), ("bytes", "gb_per_s", 1e9)):
            if e[work] > 0 and seconds > 0:
                self.assertTrue(close(e[rate], e[work] / seconds / scale), (where, rate))
            else:
                self.assertIsNone(e[rate], (where, rate))
        if e["elements"] > 0 and seconds > 0:
            self.assertTrue(close(e["ns_per_element"], seconds * 1e9 / e["elements"]), where)
            self.assertTrue(e["elements_of"], where)
        else:
            self.assertIsNone(e["ns_per_element"], where)
        if e["bound"] == "parts":
            return  # checked against its parts by the caller
        if e["macs"] == 0 and e["bytes"] == 0:
            self.assertEqual(e["bound"], "none", where)
            self.assertEqual(e["roofline_ms"], 0, where)
            self.assertIsNone(e["fraction"], where)
            return
        levels = {level["level"]: level for level in roofline["memory"]}
        level = levels[e["level"]]
        # The level is the first whose capacity holds the working set.
        order = [entry["level"] for entry in roofline["memory"]]
        for name in order[:order.index(e["level"])]:
            self.assertGreater(e["footprint_bytes"], levels[name]["capacity_bytes"], where)
        if level["capacity_bytes"] is not None:
            self.assertLessEqual(e["footprint_bytes"], level["capacity_bytes"], where)
        self.assertEqual(e["roofline_gb_per_s"], level["gb_per_s"], where)
        self.assertEqual(e["roofline_gmacs_per_s"], roofline["fma_gmacs_per_s"], where)
        fma_ms = e["macs"] / (roofline["fma_gmacs_per_s"] * 1e6)
        memory_ms = e["bytes"] / (level["gb_per_s"] * 1e6)
        self.assertTrue(close(e["roofline_ms"], max(fma_ms, memory_ms)), where)
        self.assertEqual(e["bound"], "fma" if fma_ms >= memory_ms else "memory", where)
        if seconds <= 0:
            self.assertIsNone(e["fraction"], where)
            return
        self.assertTrue(close(e["fraction"], e["roofline_ms"] / e["median_ms"]), where)
        # The same fraction read as achieved rate over roofline rate of the binding limit.
        if e["bound"] == "fma":
            self.assertTrue(close(e["fraction"], e["gmacs_per_s"] / e["roofline_gmacs_per_s"]), where)
        else:
            self.assertTrue(close(e["fraction"], e["gb_per_s"] / e["roofline_gb_per_s"]), where)

    def check_document(self, doc, threads):
        roofline = doc["roofline"]
        self.check_roofline(roofline, threads)
        for name in ("patch_embed", "head"):
            e = doc[name]["efficiency"]
            self.check_efficiency(e, roofline, name)
            self.assertEqual(e["median_ms"], doc[name]["median_ms"])
            self.assertEqual(e["bound"], "fma" if name == "patch_embed" else e["bound"])
        B = doc["settings"]["batch"]
        for layer in doc["layers"]:
            for name in BLOCK_OPS:
                op = layer["ops"][name]
                where = (layer["block"], name)
                e = op["efficiency"]
                self.check_efficiency(e, roofline, where)
                self.assertEqual(e["median_ms"], op["median_ms"], where)
                # MACs per pass are the per-image MACs of the op times the batch.
                self.assertTrue(close(e["macs"], B * op["macs"]), where)
                if "sub_ops" not in op:
                    self.assertNotEqual(e["bound"], "parts", where)
                    continue
                self.assertEqual(e["bound"], "parts", where)
                parts = op["sub_ops"]
                for part_name, part in parts.items():
                    self.check_efficiency(part["efficiency"], roofline, where + (part_name,))
                    self.assertEqual(part["efficiency"]["median_ms"], part["median_ms"])
                for key in ("macs", "bytes", "roofline_ms"):
                    self.assertTrue(close(e[key], sum(p["efficiency"][key] for p in parts.values())), (where, key))
                if e["median_ms"] > 0:
                    self.assertTrue(close(e["fraction"], e["roofline_ms"] / e["median_ms"]), where)

    def test_learned_masks_with_pruning(self):
        doc = profile("--arch", "deit_tiny", "--img-size", "128", "--random-weights", "--sparsifiner",
                      "--keep-rate", "0.25", "--prune-at", "3,6,9", "--token-keep", "0.7", "--batch", "2")
        self.check_document(doc, 1)
        D, H = 192, 3
        for layer in doc["layers"]:
            T, To, k = layer["tokens_in"], layer["tokens_out"], layer["kept_keys"]
            ops = layer["ops"]
            # Work by hand for a few ops (batch 2).
            self.assertEqual(ops["ln1"]["efficiency"]["bytes"], 2 * 8 * T * D)
            self.assertEqual(ops["ln1"]["efficiency"]["elements"], 2 * T * D)
            keys = ops["mask"]["sub_ops"]["key_topk"]["efficiency"]
            self.assertEqual(keys["elements"], 2 * H * (T - 1) * T)
            attention = ops["attention"]["efficiency"]
            self.assertEqual(attention["bytes"], 4 * attention["macs"] + 4 * 2 * H * (T - 1) * k)
            prune = ops["prune"]["efficiency"]
            if To < T:
                self.assertEqual(prune["elements"], 2 * To * D)
                # Blocks after the first pruning slice the predictor to the survivors.
            else:
                self.assertEqual(prune["bound"], "none")
            slice_work = ops["mask"]["sub_ops"]["alive_slice"]["efficiency"]
            self.assertEqual(slice_work["bytes"] > 0, layer["block"] > 3)

    def test_dense_onednn_parts_and_two_threads(self):
        saved = os.environ.get("SPARSIFINER_DENSE_CORE")
        os.environ["SPARSIFINER_DENSE_CORE"] = "onednn"
        try:
            doc = profile("--arch", "deit_tiny", "--img-size", "64", "--random-weights", threads=2)
        finally:
            if saved is None:
                del os.environ["SPARSIFINER_DENSE_CORE"]
            else:
                os.environ["SPARSIFINER_DENSE_CORE"] = saved
        self.check_document(doc, 2)
        for layer in doc["layers"]:
            parts = layer["ops"]["attention"]["sub_ops"]
            self.assertEqual(set(parts), {"qk", "softmax", "pv"})
            self.assertEqual(parts["softmax"]["efficiency"]["macs"], 0)
            self.assertGreater(parts["qk"]["efficiency"]["macs"], 0)
            self.assertEqual(layer["ops"]["mask"]["efficiency"]["bound"], "none")

    def test_oracle_and_window_masks(self):
        for mask in ("oracle", "window"):
            doc = profile("--arch", "deit_tiny", "--img-size", "64", "--random-weights", "--mask", mask,
                          "--keep-rate", "0.25")
            self.check_document(doc, 1)

    def test_table_has_the_efficiency_columns_and_every_op(self):
        text = sparsifiner(["profile", "--repeat", "2", "--warmup", "0", "--threads", "1", "--arch", "deit_tiny",
                            "--img-size", "64", "--random-weights", "--sparsifiner", "--keep-rate", "0.25"],
                           timeout=600).stdout
        lines = text.splitlines()
        header = next(i for i, line in enumerate(lines) if line.split()[:3] == ["op", "ms", "GMACs"])
        self.assertIn("efficiency per op", lines[header - 1])
        for column in ("GMAC/s", "ns/element", "GB/s", "bound", "roofline", "of roofline"):
            self.assertIn(column, lines[header])
        rows = [line.split()[0] for line in lines[header + 1:header + 20]]
        self.assertEqual(rows, ["patch_embed", "ln1", "qkv", "mask", "alive_slice", "qc", "kc", "kl", "cheap",
                                "coef_topk", "coef_basis", "key_topk", "attention", "proj", "prune", "ln2",
                                "fc1_gelu", "fc2", "head"])
        qkv = next(line for line in lines[header + 1:] if line.split()[0] == "qkv")
        self.assertIn("GMAC/s", qkv)
        self.assertTrue(qkv.rstrip().endswith("%"), qkv)


if __name__ == "__main__":
    unittest.main()
