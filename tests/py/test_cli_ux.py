"""What a user meets first (issue 17): mistakes named with the nearest command or flag, `help
COMMAND`, defaults in --help, refusals before the work, progress only on a terminal, one report in
every --format, `compare` and `profile --trace`. Uses the bundled model (no -m) where it can."""
import csv
import io
import json
import os
import pty
import subprocess
import sys
import unittest

BIN = os.environ.get("SPARSIFINER_BIN", "")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TempDirTestCase  # noqa: E402
SOURCE = os.environ.get("SPARSIFINER_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
SAMPLES = os.path.join(SOURCE, "datasets", "samples")
TIMEOUT_S = 300


def run(*args, env=None):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=TIMEOUT_S, env=env)


def run_on_terminal(*args):
    """Runs with stderr on a pseudo-terminal (stdout a pipe) -> (stdout, what the terminal got)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([BIN, *args], stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    out = proc.stdout.read()
    proc.stdout.close()
    proc.wait(timeout=TIMEOUT_S)
    os.close(master)
    return proc.returncode, out, seen.decode(errors="replace")


@unittest.skipUnless(BIN and os.path.exists(BIN), "SPARSIFINER_BIN not set")
class CliUxTest(TempDirTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.samples = sorted(os.path.join(SAMPLES, f) for f in os.listdir(SAMPLES) if f.endswith(".png"))

    def assert_usage_error(self, result, *needles):
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertEqual(result.stdout, "")
        lines = result.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, result.stderr)
        for needle in needles:
            self.assertIn(needle, lines[0])

    # -- errors and help --------------------------------------------------------------------------

    def test_mistyped_command_and_flag_suggest_the_nearest(self):
        self.assert_usage_error(run("clasify", "x.png"), "unknown command 'clasify'", "did you mean 'classify'?")
        self.assert_usage_error(run("frobnicate"), "unknown command 'frobnicate'", "classify, info")
        self.assert_usage_error(run("classify", "--thread", "2", "x.png"), "unknown option '--thread'",
                                "did you mean '--threads'?")
        self.assert_usage_error(run("sweep", "--keep-rate", "0.5"), "did you mean '--keep-rates'?")
        self.assert_usage_error(run("--bogus"), "unknown option '--bogus'")
        self.assert_usage_error(run(), "a command is required")

    def test_help_command_and_defaults(self):
        top = run("help")
        self.assertEqual(top.returncode, 0)
        self.assertIn("compare", top.stdout)
        bench = run("help", "bench")
        self.assertEqual(bench.returncode, 0)
        self.assertEqual(bench.stdout, run("bench", "--help").stdout)
        for default in ("=1,8", "=30", "=5"):  # --batch, --runs, --warmup
            self.assertIn(default, bench.stdout)
        profile = run("help", "profile").stdout
        self.assertIn("=20", profile)  # --repeat
        self.assertIn("=3", profile)   # --warmup
        self.assertIn("=1.0,0.5,0.25", run("help", "sweep").stdout)
        self.assertIn("REQUIRED", run("help", "visualize").stdout)
        self.assert_usage_error(run("help", "clasify"), "did you mean 'classify'?")

    def test_refusals_before_the_work(self):
        self.assert_usage_error(run("visualize", self.samples[0], "--layer", "0", "-o",
                                    os.path.join(self.tmp.name, "v.jpg")), "PNG only", ".png")
        self.assertFalse(os.path.exists(os.path.join(self.tmp.name, "v.jpg")))
        self.assert_usage_error(run("classify", self.samples[0], "--logits"), "--logits needs --json")
        self.assert_usage_error(run("classify", self.samples[0], "--json", "--format", "csv"), "exclude each other")

    def test_a_png_as_model_is_not_a_safetensors_file(self):
        result = run("info", "-m", self.samples[0])
        self.assertEqual(result.returncode, 3)
        self.assertEqual(result.stderr.strip(),
                         "sparsifiner: %s: header: not a safetensors file (it is a PNG image)" % self.samples[0])

    def test_bundled_model_is_named_once_on_stderr(self):
        env = dict(os.environ)
        env.pop("SPARSIFINER_MODEL", None)
        result = run("classify", self.samples[0], "--top", "1", env=env)
        self.assertEqual(result.returncode, 0, result.stderr)
        notes = [line for line in result.stderr.splitlines() if "no -m given" in line]
        self.assertEqual(len(notes), 1, result.stderr)
        self.assertIn("fashion_sparsifiner.safetensors", notes[0])
        with_model = run("classify", "-m", notes[0].split("using ")[1].split(" (")[0], self.samples[0])
        self.assertNotIn("no -m given", with_model.stderr)
        # The table has a header line above the first image.
        self.assertTrue(result.stdout.splitlines()[0].startswith("image / rank"), result.stdout)

    def test_fewer_data_classes_than_model_classes_warn_once(self):
        model = os.path.join(self.tmp.name, "twenty_classes.safetensors")
        subprocess.run([sys.executable, os.path.join(SOURCE, "weights", "make_random_model.py"), "--arch",
                        "deit_tiny", "--num-classes", "20", "--seed", "1", "-o", model], check=True, timeout=TIMEOUT_S)
        folder = os.path.join(SOURCE, "tests", "data", "sweep_folder")
        result = run("sweep", "-m", model, "--data", folder, "--keep-rates", "0.5", "--mask", "window", "--limit", "2",
                     "--json")
        self.assertEqual(result.returncode, 0, result.stderr)
        warnings = [line for line in result.stderr.splitlines() if "warning" in line]
        self.assertEqual(len(warnings), 1, result.stderr)
        self.assertIn("and the model 20", warnings[0])

    # -- progress ---------------------------------------------------------------------------------

    def test_progress_only_on_a_terminal(self):
        args = ["classify"] + self.samples[:6] + ["--top", "1"]
        piped = run(*args)
        self.assertEqual(piped.returncode, 0)
        self.assertNotIn("images/s", piped.stderr)
        rc, out, terminal = run_on_terminal(*args)
        self.assertEqual(rc, 0)
        self.assertIn("classify [", terminal)
        self.assertIn("6/6 images", terminal)
        self.assertIn("ETA", terminal)
        self.assertEqual(out, piped.stdout, "progress never reaches stdout")
        rc, _, quiet = run_on_terminal(*(args + ["--quiet"]))
        self.assertNotIn("images/s", quiet)
        forced = run(*(args + ["--progress"]))
        self.assertIn("classify: 6/6 images", forced.stderr)
        rc, _, bench = run_on_terminal("bench", "--batch", "1", "--runs", "3", "--warmup", "1", "--no-peak")
        self.assertIn("4/4 runs", bench)
        rc, _, profile = run_on_terminal("profile", "--repeat", "2", "--warmup", "1")
        self.assertIn("5/5 passes", profile)

    # -- formats ----------------------------------------------------------------------------------

    def test_classify_formats_render_one_report(self):
        args = ["classify"] + self.samples[:3] + ["--top", "2", "--truth-from-name"]
        doc = json.loads(run(*(args + ["--json"])).stdout)
        rows = list(csv.DictReader(io.StringIO(run(*(args + ["--format", "csv"])).stdout)))
        self.assertEqual(len(rows), 6)
        for row, (result, rank) in zip(rows, [(r, k) for r in doc["results"] for k in range(2)]):
            self.assertEqual(row["file"], result["file"])
            self.assertEqual(int(row["class"]), result["top"][rank]["class"])
            self.assertAlmostEqual(float(row["prob"]), result["top"][rank]["prob"], places=5)
        md = run(*(args + ["--format", "md"])).stdout.splitlines()
        self.assertTrue(md[0].startswith("| file | rank |"), md[0])
        self.assertEqual(len([line for line in md if line.startswith("| ")]), 2 + 6)  # header, rule, rows

    def test_info_bench_profile_formats(self):
        info = list(csv.reader(io.StringIO(run("info", "--format", "csv").stdout)))
        self.assertEqual(info[0], ["field", "value"])
        self.assertIn("arch", [row[0] for row in info])
        bench = list(csv.DictReader(io.StringIO(run("bench", "--batch", "1", "--runs", "5", "--warmup", "0",
                                                    "--no-peak", "--format", "csv").stdout)))
        self.assertEqual(len(bench), 1)
        b = bench[0]
        self.assertLessEqual(float(b["median ms"]), float(b["p95 ms"]) + 1e-9)
        self.assertLessEqual(float(b["p95 ms"]), float(b["p99 ms"]) + 1e-9)
        self.assertAlmostEqual(float(b["images/s"]), 1000.0 / float(b["median ms"]), delta=0.1 + 1e-3 * float(b["images/s"]))
        profile = list(csv.DictReader(io.StringIO(run("profile", "--repeat", "1", "--format", "csv").stdout)))
        self.assertEqual([int(r["block"]) for r in profile], list(range(len(profile))))

    def test_bench_times_a_list_of_settings_in_one_run(self):
        # issue 15: the sparse path's speed against dense, measured in one run with the runs interleaved.
        doc = json.loads(run("bench", "--batch", "1", "--runs", "4", "--warmup", "1", "--no-peak", "--mask",
                             "dense,learned", "--keep-rate", "0.25", "--prune-at", "2", "--token-keep", "1,0.5",
                             "--json").stdout)
        self.assertEqual(doc["settings"], ["dense", "dense, prune 2 at 0.5", "learned 0.25",
                                           "learned 0.25, prune 2 at 0.5"])
        configs = doc["configs"]
        self.assertEqual([c["setting"] for c in configs], doc["settings"])
        self.assertEqual([c["attention"]["mask"] for c in configs], ["dense", "dense", "learned", "learned"])
        self.assertEqual([c["attention"]["prune_at"] for c in configs], [[], [2], [], [2]])
        self.assertEqual(configs[2]["attention"]["keep_rate"][0], 0.25)
        for c in configs:
            self.assertEqual(len(c["samples_ms"]), 4)
            self.assertAlmostEqual(c["speedup"], configs[0]["median_ms"] / c["median_ms"], places=6)
        self.assertEqual(configs[0]["speedup"], 1.0)
        macs = [c["macs_per_image"] for c in configs]
        self.assertAlmostEqual(macs[0], doc["model"]["dense_macs_per_image"], delta=1.0)
        self.assertLess(macs[1], macs[0])  # pruning drops tokens
        self.assertLess(macs[3], macs[2])
        self.assertNotEqual(macs[2], macs[0])  # the learned pass counts its own work
        table = run("bench", "--batch", "1", "--runs", "2", "--warmup", "0", "--no-peak", "--mask", "dense,window",
                    "--keep-rate", "0.5")
        self.assertEqual(table.returncode, 0, table.stderr)
        self.assertIn("speed", table.stdout)
        self.assertIn("window 0.5", table.stdout)
        self.assert_usage_error(run("bench", "--mask", "dense,learned", "--token-keep", "1,0.7"), "--prune-at")
        self.assert_usage_error(run("bench", "--prune-at", "2", "--token-keep", "1,1.5"), "--token-keep")
        self.assert_usage_error(run("bench", "--mask", "dense,,learned"), "--mask")

    def test_merge_prints_the_sweep_table(self):
        parts = []
        for shard in ("1/2", "2/2"):
            out = run("sweep", "--images", *self.samples[:4], "--keep-rates", "0.5", "--mask", "window", "--json",
                      "--shard", shard).stdout
            parts.append(os.path.join(self.tmp.name, "part%s.json" % shard[0]))
            with open(parts[-1], "w") as f:
                f.write(out)
        whole = run("sweep", "--images", *self.samples[:4], "--keep-rates", "0.5", "--mask", "window",
                    "--format", "csv").stdout
        merged = run("merge", *parts, "--format", "csv").stdout
        drop_time = lambda text: [row[:-1] for row in csv.reader(io.StringIO(text))]  # ms/image differs
        self.assertEqual(drop_time(merged), drop_time(whole))
        self.assertEqual(json.loads(run("merge", *parts).stdout)["command"], "sweep", "merge's default stays JSON")

    def test_install_has_the_converter_and_the_slurm_script(self):
        build = os.path.dirname(os.path.abspath(BIN))
        if not os.path.exists(os.path.join(build, "cmake_install.cmake")):
            self.skipTest("the binary is not in a CMake build folder")
        prefix = os.path.join(self.tmp.name, "prefix")
        subprocess.run(["cmake", "--install", build, "--prefix", prefix], check=True, capture_output=True,
                       timeout=TIMEOUT_S)
        env = dict(os.environ, PYTHON=sys.executable)
        convert = subprocess.run([os.path.join(prefix, "bin", "sparsifiner-convert"), "--help"], env=env,
                                 capture_output=True, text=True, timeout=TIMEOUT_S)
        self.assertEqual(convert.returncode, 0, convert.stderr)
        self.assertIn("--dtype", convert.stdout)
        slurm = subprocess.run([os.path.join(prefix, "bin", "sparsifiner-slurm-sweep"), "--help"],
                               capture_output=True, text=True, timeout=TIMEOUT_S)
        self.assertIn("--shards N", slurm.stderr)
        self.assertNotIn("set -euo pipefail", slurm.stderr)

    def test_bash_completion(self):
        script = os.path.join(SOURCE, "tools", "sparsifiner-completion.bash")

        def complete(*words):
            line = " ".join(words)
            program = ('source "%s"; COMP_WORDS=(%s); COMP_CWORD=%d; _sparsifiner; printf "%%s\\n" "${COMPREPLY[@]}"'
                       % (script, " ".join("'%s'" % w for w in (BIN,) + words), len(words)))
            return subprocess.run(["bash", "-c", program], capture_output=True, text=True,
                                  timeout=TIMEOUT_S).stdout.split()

        self.assertEqual(complete("cla"), ["classify"])
        self.assertIn("compare", complete("co"))
        self.assertEqual(set(complete("bench", "--wa")), {"--warmup"})
        self.assertIn("--keep-rates", complete("sweep", "--keep"))

    # -- compare and trace ------------------------------------------------------------------------

    def test_compare_bench_documents(self):
        paths = []
        for name, ms in (("a", [10.0, 10.2, 10.1, 9.9, 10.0]), ("b", [5.0, 5.1, 4.9, 5.0, 5.05])):
            doc = {"schema_version": 2, "command": "bench",
                   "configs": [{"batch": 1, "threads": 1, "samples_ms": ms, "median_ms": sorted(ms)[2]}]}
            paths.append(os.path.join(self.tmp.name, "%s.json" % name))
            with open(paths[-1], "w") as f:
                json.dump(doc, f)
        table = run("compare", *paths)
        self.assertEqual(table.returncode, 0, table.stderr)
        self.assertIn("2.00x faster", table.stdout)
        self.assertIn("yes", table.stdout)
        same = run("compare", paths[0], paths[0], "--json")
        row = json.loads(same.stdout)["rows"][0]
        self.assertEqual(row["speedup"], 1.0)
        self.assertFalse(row["beyond_spread"])
        self.assert_usage_error(run("compare", paths[0], self.samples[0]), "not a JSON document")

    def test_profile_trace(self):
        trace = os.path.join(self.tmp.name, "trace.json")
        result = run("profile", "--repeat", "2", "--warmup", "0", "--trace", trace, "--json")
        self.assertEqual(result.returncode, 0, result.stderr)
        doc = json.loads(result.stdout)
        with open(trace) as f:
            events = json.load(f)["traceEvents"]
        spans = [e for e in events if e["ph"] == "X"]
        blocks = [e for e in spans if e["cat"] == "block"]
        self.assertEqual(len(blocks), len(doc["layers"]))
        for block in blocks:  # every op lies inside its block's span
            inside = [e for e in spans if e["cat"] == "op" and e["args"]["block"] == int(block["name"].split()[1])]
            self.assertEqual(len(inside), len(doc["layers"][0]["ops"]))
            for op in inside:
                self.assertGreaterEqual(op["ts"], block["ts"] - 1e-6)
                self.assertLessEqual(op["ts"] + op["dur"], block["ts"] + block["dur"] + 1e-3)
        self.assertIn("qc", [e["name"] for e in spans if e["cat"] == "sub_op"])  # the learned predictor's parts


if __name__ == "__main__":
    unittest.main()
