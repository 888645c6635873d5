"""How compare.py runs each engine for one (batch, threads) configuration, each in its own process.

Every runner returns the engine's JSON summary (median_ms, p90_ms, samples_ms, ...) or raises
EngineError with one line saying what went wrong. Nothing here imports torch: the peers run in
their own interpreters so that each sizes its thread pools at start-up.
"""
import json
import os
import shutil
import subprocess

import bench_common

PYTHON = "/usr/bin/python3"  # Debian's interpreter: the one with torch and numpy
RUN_TIMEOUT_S = 1800          # one configuration of one engine; a hung engine must not hang us


class EngineError(RuntimeError):
    pass


def child_env(threads):
    """The environment every engine runs in. Only thread counts are set, and set alike: each
    engine keeps its own runtime defaults otherwise (OMP_WAIT_POLICY, spinning, affinity), because
    those are its best settings; anything the caller exported (OMP_WAIT_POLICY included) applies to
    all three alike."""
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(threads)
    env["OPENBLAS_NUM_THREADS"] = str(threads)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def run_json(command, threads, what):
    try:
        result = subprocess.run(command, capture_output=True, text=True, env=child_env(threads),
                                cwd=bench_common.BENCH_DIR, timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise EngineError("%s: no answer within %d s" % (what, RUN_TIMEOUT_S))
    except OSError as error:
        raise EngineError("%s: cannot start %s: %s" % (what, command[0], error.strerror))
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise EngineError("%s: exit code %d: %s" % (what, result.returncode, last))
    try:
        return json.loads(result.stdout)
    except ValueError:
        raise EngineError("%s: printed no JSON document" % what)


def run_ours(binary, model, batch, threads, runs, warmup, dtype="f32"):
    """`sparsifiner bench --json` for one configuration -> {median_ms, ..., "document": top level}.
    dtype: `--dtype` as given ("f32", "bf16" or "f32,bf16"); the summary is the first dtype's, and
    each further one's is under "other_dtypes" (its dtype -> its summary), timed in the same call."""
    command = [binary, "bench", "-m", model, "--batch", str(batch), "--threads", str(threads),
               "--runs", str(runs), "--warmup", str(warmup), "--json"]
    if dtype != "f32":  # older binaries have no --dtype: ask only when it matters
        command += ["--dtype", dtype]
    document = run_json(command, threads, "sparsifiner bench (batch %d, threads %d)" % (batch, threads))
    found = [dict(config) for config in document.get("configs", [])
             if config.get("batch") == batch and config.get("threads") == threads]
    if not found:
        raise EngineError("sparsifiner bench: its JSON has no configuration batch %d threads %d" % (batch, threads))
    summary = found[0]
    if len(found) > 1:
        summary["other_dtypes"] = {config.get("dtype"): config for config in found[1:]}
    summary["document"] = {key: value for key, value in document.items() if key != "configs"}
    return summary


def run_onnxruntime(node, onnx_path, input_path, batch, threads, runs, warmup, allow_spinning=None):
    command = [node, os.path.join(bench_common.BENCH_DIR, "ort_bench.mjs"), "--model", onnx_path,
               "--input", input_path, "--batch", str(batch), "--threads", str(threads),
               "--runs", str(runs), "--warmup", str(warmup)]
    if allow_spinning is not None:
        command += ["--allow-spinning", str(allow_spinning)]
    return run_json(command, threads, "onnxruntime (batch %d, threads %d)" % (batch, threads))


def run_torch(model, input_path, batch, threads, runs, warmup):
    command = [PYTHON, os.path.join(bench_common.BENCH_DIR, "torch_bench.py"), "--model", model,
               "--input", input_path, "--batch", str(batch), "--threads", str(threads),
               "--runs", str(runs), "--warmup", str(warmup)]
    return run_json(command, threads, "torch (batch %d, threads %d)" % (batch, threads))


def export_onnx(model, batch, onnx_path):
    """Exports (and checks against torch) unless an export newer than the model and the scripts
    that make it is already there."""
    sources = [model, os.path.join(bench_common.REFERENCE_DIR, "deit_ref.py")] + [
        os.path.join(bench_common.BENCH_DIR, name) for name in ("export_onnx.py", "reference_model.py")]
    if os.path.exists(onnx_path) and all(os.path.getmtime(onnx_path) > os.path.getmtime(s) for s in sources):
        return
    command = [PYTHON, os.path.join(bench_common.BENCH_DIR, "export_onnx.py"), "--model", model,
               "--batch", str(batch), "-o", onnx_path]
    try:
        result = subprocess.run(command, capture_output=True, text=True, cwd=bench_common.BENCH_DIR,
                                env=child_env(2), timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise EngineError("export_onnx (batch %d): no answer within %d s" % (batch, RUN_TIMEOUT_S))
    if result.returncode != 0:
        if os.path.exists(onnx_path):
            os.remove(onnx_path)  # never time a file that failed its check
        last = (result.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise EngineError("export_onnx (batch %d): %s" % (batch, last))


def onnxruntime_missing(node):
    """None when node and onnxruntime-node are usable, else why not."""
    if not node or shutil.which(node) is None:
        return "node is not installed"
    probe = [node, "--input-type=module", "-e",
             "import ort from 'onnxruntime-node'; console.log(ort.env.versions.node)"]
    try:
        result = subprocess.run(probe, capture_output=True, text=True, cwd=bench_common.BENCH_DIR, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as error:
        return "node does not run: %s" % error
    if result.returncode != 0:
        return "onnxruntime-node is not installed (run \"npm install --ignore-scripts\" in bench/)"
    return None


def torch_missing():
    """None when Debian's python3 imports torch, else why not."""
    if not os.path.exists(PYTHON):
        return "%s is missing" % PYTHON
    result = subprocess.run([PYTHON, "-c", "import torch"], capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        return "torch is not importable by %s" % PYTHON
    return None
