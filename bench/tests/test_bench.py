#!/usr/bin/python3
"""Tests of the benchmark scripts: /usr/bin/python3 -m unittest discover -s bench/tests -v

They use a tiny DeiT (one block, 32x32 input) and a stub `sparsifiner bench` so that they run in
seconds; the ONNX Runtime ones are skipped when node or onnxruntime-node is not installed.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

BENCH_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, BENCH_DIR)
import bench_common  # noqa: E402
import engines  # noqa: E402

PYTHON = "/usr/bin/python3"
NETLIB_BLAS = "/usr/lib/x86_64-linux-gnu/blas/libblas.so.3"
TINY = {"arch": "tiny_test", "embed_dim": 64, "num_heads": 2, "depth": 1, "mlp_hidden": 128,
        "patch_size": 16, "img_size": 32, "num_classes": 10, "distilled": False}

# Prints what `sparsifiner bench --json` prints: median 10 ms x batch / threads, 2 GFLOP per image.
STUB = r'''#!/usr/bin/python3
import argparse, json
p = argparse.ArgumentParser()
for flag in ("command", "-m", "--batch", "--threads", "--runs", "--warmup"):
    p.add_argument(flag)
p.add_argument("--json", action="store_true")
a = p.parse_args()
b, t = int(a.batch), int(a.threads)
median = 10.0 * b / t
config = {"batch": b, "threads": t, "median_ms": median, "p90_ms": median + 1, "samples_ms": [median],
          "gflops": 2.0 * b / (median / 1e3), "peak_fraction": 0.25}
print(json.dumps({"schema_version": 1, "command": "bench", "cpu": "stub", "isa": "avx2",
                  "build": "portable", "matmul_peak_gflops": 80.0, "configs": [config]}))
'''


def write_tiny_model(path, seed):
    sys.path.insert(0, bench_common.REFERENCE_DIR)
    import deit_ref
    deit_ref.write_model(path, deit_ref.random_deit_state(TINY, seed), TINY, seed=seed)


def run(command, **kwargs):
    return subprocess.run(command, capture_output=True, text=True, cwd=BENCH_DIR, timeout=600, **kwargs)


ORT_MISSING = engines.onnxruntime_missing("node")


class StatisticsTest(unittest.TestCase):
    def test_median_and_nearest_rank_p90(self):
        # 1..10: median between 5 and 6; 9 of 10 samples are <= 9, so p90 is 9.
        self.assertEqual(bench_common.summarize([7, 3, 10, 1, 5, 2, 9, 4, 8, 6]), {"median_ms": 5.5, "p90_ms": 9})
        # 1..20: ceil(0.9 * 20) = 18th smallest; odd count: the middle sample.
        self.assertEqual(bench_common.summarize(list(range(20, 0, -1)))["p90_ms"], 18)
        self.assertEqual(bench_common.summarize([5, 1, 3])["median_ms"], 3)
        # 5 samples: 90% of 5 is 4.5, so 5 samples are needed: p90 is the largest one.
        self.assertEqual(bench_common.summarize([4, 5, 1, 3, 2]), {"median_ms": 3, "p90_ms": 5})

    def test_int_lists(self):
        self.assertEqual(bench_common.parse_int_list("1,8", "--batch"), [1, 8])
        for bad in ("", "1,x", "0", "-2"):
            with self.assertRaises(ValueError):
                bench_common.parse_int_list(bad, "--batch")


class ModelConfigTest(unittest.TestCase):
    def write_header(self, path, shapes, metadata=None):
        header = {name: {"dtype": "F32", "shape": shape, "data_offsets": [0, 0]} for name, shape in shapes.items()}
        if metadata is not None:
            header["__metadata__"] = metadata
        blob = json.dumps(header).encode()
        with open(path, "wb") as f:
            f.write(len(blob).to_bytes(8, "little") + blob)

    def deit_shapes(self, width, depth):
        shapes = {"cls_token": [1, 1, width], "pos_embed": [1, 197, width],
                  "patch_embed.proj.weight": [width, 3, 16, 16], "head.weight": [1000, width]}
        for i in range(depth):
            shapes["blocks.%d.attn.qkv.weight" % i] = [3 * width, width]
            shapes["blocks.%d.mlp.fc1.weight" % i] = [4 * width, width]
        return shapes

    def test_geometry_from_shapes_without_metadata(self):
        with tempfile.TemporaryDirectory() as scratch:
            path = os.path.join(scratch, "timm.safetensors")
            self.write_header(path, self.deit_shapes(384, 12))
            config = bench_common.model_config(path)
        self.assertEqual((config["num_heads"], config["depth"], config["img_size"], config["mlp_hidden"]),
                         (6, 12, 224, 1536))

    def test_metadata_wins_and_unknown_width_needs_it(self):
        with tempfile.TemporaryDirectory() as scratch:
            path = os.path.join(scratch, "odd.safetensors")
            self.write_header(path, self.deit_shapes(96, 2))
            with self.assertRaisesRegex(ValueError, "num_heads"):
                bench_common.model_config(path)
            self.write_header(path, self.deit_shapes(96, 2), {"num_heads": "4"})
            self.assertEqual(bench_common.model_config(path)["num_heads"], 4)


class TorchBenchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.scratch = tempfile.mkdtemp()
        cls.model = os.path.join(cls.scratch, "tiny.safetensors")
        write_tiny_model(cls.model, seed=1)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.scratch)

    def bench(self, *extra, env=None):
        return run([PYTHON, "torch_bench.py", "--model", self.model, "--batch", "2", "--threads", "1",
                    "--runs", "3", "--warmup", "1"] + list(extra), env=env)

    def test_reports_samples_with_openblas(self):
        result = self.bench()
        self.assertEqual(result.returncode, 0, result.stderr)
        report = json.loads(result.stdout)
        self.assertEqual(len(report["samples_ms"]), 3)
        self.assertTrue(report["blas"]["ok"])
        self.assertEqual(report["blas"]["provider"], "openblas")
        self.assertIn("openblas", report["blas"]["sgemm_library"])
        self.assertIn("OpenBLAS", report["blas"]["version"])
        self.assertEqual(report["blas"]["openblas_threads"], 1)
        self.assertEqual(report["median_ms"], sorted(report["samples_ms"])[1])

    @unittest.skipUnless(os.path.exists(NETLIB_BLAS), "the netlib reference BLAS is not installed")
    def test_refuses_the_reference_blas(self):
        # Preloading netlib's libblas makes torch's sgemm calls resolve to the reference BLAS.
        env = dict(os.environ, LD_PRELOAD=NETLIB_BLAS)
        result = self.bench(env=env)
        self.assertEqual(result.returncode, 4)
        self.assertEqual(result.stdout, "")
        self.assertIn("reference BLAS", result.stderr)
        flagged = self.bench("--allow-slow-blas", env=env)
        self.assertEqual(flagged.returncode, 0, flagged.stderr)
        blas = json.loads(flagged.stdout)["blas"]
        self.assertFalse(blas["ok"])
        self.assertEqual(blas["provider"], "reference")
        # Identified by the library, whatever its speed on this CPU.
        self.assertEqual(blas["sgemm_library"], os.path.realpath(NETLIB_BLAS))


@unittest.skipIf(ORT_MISSING, "ONNX Runtime peer unavailable: %s" % ORT_MISSING)
class OnnxRuntimeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.scratch = tempfile.mkdtemp()
        cls.models = []
        for seed in (1, 2):
            path = os.path.join(cls.scratch, "tiny%d.safetensors" % seed)
            write_tiny_model(path, seed)
            cls.models.append(path)
        cls.onnx = os.path.join(cls.scratch, "tiny1_b2.onnx")
        cls.export = run([PYTHON, "export_onnx.py", "--model", cls.models[0], "--batch", "2", "-o", cls.onnx])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.scratch)

    def test_export_passes_its_check(self):
        self.assertEqual(self.export.returncode, 0, self.export.stderr)
        self.assertIn("ONNX Runtime vs torch float32", self.export.stderr)

    def test_check_catches_other_weights(self):
        import export_onnx
        export_onnx.check(self.models[0], self.onnx, 2)  # its own weights: within tolerance
        with self.assertRaisesRegex(RuntimeError, "differ from torch"):
            export_onnx.check(self.models[1], self.onnx, 2)

    def test_ort_bench_times_and_rejects_bad_input(self):
        config = bench_common.model_config(self.models[0])
        input_path = os.path.join(self.scratch, "input.bin")
        bench_common.write_raw(input_path, bench_common.make_input(config, 2))
        base = ["node", "ort_bench.mjs", "--model", self.onnx, "--batch", "2", "--threads", "1"]
        result = run(base + ["--input", input_path, "--runs", "4", "--warmup", "1"])
        self.assertEqual(result.returncode, 0, result.stderr)
        report = json.loads(result.stdout)
        self.assertEqual(len(report["samples_ms"]), 4)
        ordered = sorted(report["samples_ms"])
        self.assertAlmostEqual(report["median_ms"], (ordered[1] + ordered[2]) / 2)
        self.assertEqual(report["p90_ms"], ordered[3])
        self.assertEqual(report["session_options"]["interOpNumThreads"], 1)
        bench_common.write_raw(input_path, bench_common.make_input(config, 3))  # a batch of 3, not 2
        self.assertEqual(run(base + ["--input", input_path]).returncode, 3)
        self.assertEqual(run(base + ["--input", input_path, "--bogus", "1"]).returncode, 2)


class CompareTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.scratch = tempfile.mkdtemp()
        cls.model = os.path.join(cls.scratch, "tiny.safetensors")
        write_tiny_model(cls.model, seed=3)
        cls.stub = os.path.join(cls.scratch, "sparsifiner")
        with open(cls.stub, "w") as f:
            f.write(STUB)
        os.chmod(cls.stub, 0o755)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.scratch)

    def compare(self, *extra):
        return run([PYTHON, "compare.py", "--model", self.model, "--batch", "1,2", "--threads", "1",
                    "--runs", "2", "--warmup", "0", "--sparsifiner", self.stub,
                    "--workdir", os.path.join(self.scratch, "out")] + list(extra))

    @unittest.skipIf(ORT_MISSING, "ONNX Runtime peer unavailable: %s" % ORT_MISSING)
    def test_all_engines_interleaved_on_the_same_input(self):
        result = self.compare("--json")
        self.assertEqual(result.returncode, 0, result.stderr)
        document = json.loads(result.stdout)
        self.assertEqual(document["schema_version"], 1)
        self.assertEqual([(c["batch"], c["threads"]) for c in document["configs"]], [(1, 1), (2, 1)])
        first, second = document["configs"]
        self.assertNotEqual(first["order"][0], second["order"][0])  # the order rotates
        for row in document["configs"]:
            self.assertEqual(sorted(row["order"]), ["onnxruntime", "ours", "torch"])
            self.assertAlmostEqual(row["ours_over_onnxruntime"],
                                   row["ours"]["median_ms"] / row["onnxruntime"]["median_ms"])
            # The stub does 2 GFLOP per image in 10 ms per image.
            self.assertAlmostEqual(row["torch"]["gflops"] * row["torch"]["median_ms"] / 1e3, 2.0 * row["batch"])
        self.assertTrue(document["engines"]["torch"]["blas"]["ok"])
        self.assertEqual(document["failures"], [])

    def test_missing_peer_is_skipped_unless_required(self):
        result = self.compare("--node", "/nonexistent/node")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertRegex(result.stdout, r"onnxruntime: skipped, node is not installed")
        self.assertRegex(result.stdout, r"\n +1 +1 +10\.0 / 11\.0 +skipped ")
        self.assertEqual(self.compare("--node", "/nonexistent/node", "--require-peers").returncode, 3)

    def test_bad_usage_and_missing_binary(self):
        self.assertEqual(self.compare("--batch", "0").returncode, 2)
        self.assertEqual(run([PYTHON, "compare.py", "--sparsifiner", "/nonexistent"]).returncode, 2)


if __name__ == "__main__":
    unittest.main()
