#!/usr/bin/python3
"""sparsifiner against ONNX Runtime and PyTorch on the same DeiT weights, the same input and the
same threads, in one invocation.

    /usr/bin/python3 bench/compare.py --arch deit_small --batch 1,8 --threads 1,2 --runs 30 [--json]

Per (batch, threads) configuration the three engines run one after another, each in its own
process, before the next configuration starts: machine noise that comes and goes hits all three
alike. The order rotates from one configuration to the next so that no engine always runs first.
Every engine times only its forward pass (see bench/README.md for what each excludes).
Exit codes: 0 ok, 2 usage (bad flag, no binary), 3 a peer is missing and --require-peers was given,
4 a run or an export failed (the others are still reported).
"""
import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys

import bench_common
import engines

ENGINES = ("ours", "onnxruntime", "torch")
FAIRNESS = ("each engine in its own process, one at a time; OMP_NUM_THREADS and OPENBLAS_NUM_THREADS "
            "set to the configuration's threads for all; ONNX Runtime: intraOpNumThreads=threads, "
            "interOpNumThreads=1, sequential, graph optimisation 'all', spin-wait as shipped unless "
            "--ort-allow-spinning; torch: set_num_threads(threads), OpenBLAS pool sized to threads, "
            "inference_mode, fused LayerNorm/GELU, OMP_WAIT_POLICY=PASSIVE (as sparsifiner sets for "
            "itself) unless the caller exported a policy, which then applies to both OpenMP engines")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="deit_small", help="random model to make when --model is not given")
    parser.add_argument("--model", help=".safetensors weight file (default: a seeded random --arch model)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random model")
    parser.add_argument("--batch", default="1,8", help="comma-separated batch sizes")
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--runs", type=int, default=30, help="timed runs per engine and configuration")
    parser.add_argument("--warmup", type=int, default=5, help="untimed runs before them")
    parser.add_argument("--dtype", default="f32",
                        help="what sparsifiner computes its Linear layers in: f32, bf16, or f32,bf16 (both, one "
                             "call; the peers stay f32)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    parser.add_argument("--sparsifiner", help="the sparsifiner binary (default: $SPARSIFINER_BIN, build/, PATH)")
    parser.add_argument("--node", default="node", help="the node executable for ONNX Runtime")
    parser.add_argument("--workdir", default=os.path.join(bench_common.BENCH_DIR, "out"),
                        help="where models, inputs and ONNX files are kept (default bench/out)")
    parser.add_argument("--ort-allow-spinning", type=int, choices=(0, 1),
                        help="ONNX Runtime's intra-op spin-wait (default: as shipped, spinning)")
    parser.add_argument("--require-peers", action="store_true",
                        help="exit 3 when ONNX Runtime or torch is missing instead of skipping its column")
    args = parser.parse_args()
    try:
        args.batches = bench_common.parse_int_list(args.batch, "--batch")
        args.thread_counts = bench_common.parse_int_list(args.threads, "--threads")
    except ValueError as error:
        parser.error(str(error))
    if args.runs < 1 or args.warmup < 0:
        parser.error("--runs must be at least 1 and --warmup at least 0")
    return args


def find_binary(given):
    candidates = [given] if given else [os.environ.get("SPARSIFINER_BIN"),
                                        os.path.join(bench_common.REPO_ROOT, "build", "sparsifiner"),
                                        shutil.which("sparsifiner")]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return os.path.abspath(candidate)
    return None


def make_model(args):
    """-> the weight file to benchmark: --model, or a seeded random one made once in the workdir."""
    if args.model:
        if not os.path.isfile(args.model):
            raise engines.EngineError("%s: no such model file" % args.model)
        return os.path.abspath(args.model)
    path = os.path.join(args.workdir, "%s_random_seed%d.safetensors" % (args.arch, args.seed))
    if not os.path.exists(path):
        maker = os.path.join(bench_common.REPO_ROOT, "weights", "make_random_model.py")
        command = [engines.PYTHON, maker, "--arch", args.arch, "--seed", str(args.seed), "-o", path]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["(no message)"])[-1]
            raise engines.EngineError("make_random_model.py --arch %s: %s" % (args.arch, last))
    return path


def cpu_model():
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    except OSError:
        return "unknown"
    for line in text.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def git_commit():
    try:
        result = subprocess.run(["git", "-C", bench_common.REPO_ROOT, "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True)
    except OSError:
        return "unknown"
    return result.stdout.strip() or "unknown"


def prepare_inputs(args, model, config, available, failures):
    """Writes the shared input of each batch size and, for ONNX Runtime, exports one file per batch."""
    inputs, onnx_files = {}, {}
    stem = os.path.splitext(os.path.basename(model))[0]
    for batch in args.batches:
        inputs[batch] = os.path.join(args.workdir, "input_%d_b%d.bin" % (config["img_size"], batch))
        bench_common.write_raw(inputs[batch], bench_common.make_input(config, batch))
        if "onnxruntime" in available:
            onnx_path = os.path.join(args.workdir, "%s_b%d.onnx" % (stem, batch))
            progress("ONNX file for batch %d: %s (exported and checked unless up to date)" % (batch, onnx_path))
            try:
                engines.export_onnx(model, batch, onnx_path)
                onnx_files[batch] = onnx_path
            except engines.EngineError as error:
                failures.append(str(error))
    return inputs, onnx_files


def run_config(args, binary, model, inputs, onnx_files, available, batch, threads, rotation, failures):
    available_here = [e for e in ENGINES if e in available and (e != "onnxruntime" or batch in onnx_files)]
    order = available_here[rotation % len(available_here):] + available_here[:rotation % len(available_here)]
    row = {"batch": batch, "threads": threads, "order": order}
    if "onnxruntime" in available and batch not in onnx_files:
        row["onnxruntime"] = {"error": "the ONNX export for batch %d failed" % batch}
    for engine in order:
        progress("batch %d threads %d: %s" % (batch, threads, engine))
        try:
            if engine == "ours":
                row[engine] = engines.run_ours(binary, model, batch, threads, args.runs, args.warmup, args.dtype)
                for dtype, summary in row[engine].pop("other_dtypes", {}).items():
                    row["ours_" + dtype] = summary
            elif engine == "onnxruntime":
                row[engine] = engines.run_onnxruntime(args.node, onnx_files[batch], inputs[batch], batch,
                                                      threads, args.runs, args.warmup,
                                                      args.ort_allow_spinning)
            else:
                row[engine] = engines.run_torch(model, inputs[batch], batch, threads, args.runs, args.warmup)
        except engines.EngineError as error:
            failures.append(str(error))
            row[engine] = {"error": str(error)}
    ours = row.get("ours", {})
    # The work of one forward pass, as our engine counts it (GFLOP/s x seconds), gives the peers a
    # GFLOP/s on the same scale without a second FLOP counter.
    work_gflop = None
    if ours.get("gflops") and ours.get("median_ms"):
        work_gflop = ours["gflops"] * ours["median_ms"] / 1e3
    others = [key for key in list(row) if key.startswith("ours_") and isinstance(row[key], dict)]
    for peer in ("onnxruntime", "torch"):
        summary = row.get(peer, {})
        if ours.get("median_ms") and summary.get("median_ms"):
            row["ours_over_" + peer] = ours["median_ms"] / summary["median_ms"]
        for key in others:  # e.g. ours_bf16_over_onnxruntime
            if row[key].get("median_ms") and summary.get("median_ms"):
                row[key + "_over_" + peer] = row[key]["median_ms"] / summary["median_ms"]
        if work_gflop and summary.get("median_ms"):
            summary["gflops"] = work_gflop / (summary["median_ms"] / 1e3)
    return row


def progress(message):
    print("compare: " + message, file=sys.stderr, flush=True)


def cell(summary):
    if not summary:
        return "skipped"
    if "error" in summary:
        return "failed"
    return "%.1f / %.1f" % (summary["median_ms"], summary["p90_ms"])


def print_table(document):
    print("sparsifiner vs ONNX Runtime vs PyTorch: %s, %s" % (document["arch"], document["model"]))
    print("cpu: %s | isa: %s | build: %s | commit: %s | date: %s"
          % (document["cpu"], document["isa"], document["build"], document["commit"], document["date"]))
    print("%d timed runs after %d warm-up, milliseconds median / p90; ratio < 1: ours is faster"
          % (document["runs"], document["warmup"]))
    peaks = {}
    for row in document["configs"]:
        if row.get("ours", {}).get("peak_gflops"):
            peaks.setdefault(row["threads"], row["ours"]["peak_gflops"])
    print("load average (1 min) before %.2f, after %.2f; in-run matmul peak GFLOP/s by threads: %s"
          % (document["load_average_before"][0], document["load_average_after"][0],
             ", ".join("%d: %.1f" % item for item in sorted(peaks.items())) or "-"))
    for name, info in document["engines"].items():
        if not info["available"]:
            print("%s: skipped, %s" % (name, info["reason"]))
    dtypes = document.get("dtype", "f32").split(",")
    first, extra = dtypes[0], dtypes[1:]
    name = lambda dtype: "ours" if dtype == "f32" and first == "f32" else "ours " + dtype
    header = (("batch", "threads", name(first), "onnxruntime", "torch", "%s/ORT" % name(first),
               "%s/torch" % name(first), "GFLOP/s", "of peak")
              + tuple(name(d) for d in extra) + tuple("%s/ORT" % name(d) for d in extra))
    rows = []
    for row in document["configs"]:
        ours = row.get("ours", {})
        ratio = lambda key: "%.2f" % row[key] if key in row else "-"
        rows.append((str(row["batch"]), str(row["threads"]), cell(ours), cell(row.get("onnxruntime")),
                     cell(row.get("torch")), ratio("ours_over_onnxruntime"), ratio("ours_over_torch"),
                     "%.1f" % ours["gflops"] if ours.get("gflops") else "-",
                     "%.0f%%" % (100 * ours["peak_fraction"]) if ours.get("peak_fraction") else "-")
                    + tuple(cell(row.get("ours_" + d)) for d in extra)
                    + tuple(ratio("ours_%s_over_onnxruntime" % d) for d in extra))
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    for r in [header] + rows:
        print("  ".join(text.rjust(width) for text, width in zip(r, widths)))
    for failure in document["failures"]:
        print("failed: " + failure)


def main():
    args = parse_args()
    binary = find_binary(args.sparsifiner)
    if binary is None:
        print("compare: no sparsifiner binary (give --sparsifiner or set SPARSIFINER_BIN)", file=sys.stderr)
        return 2
    os.makedirs(args.workdir, exist_ok=True)
    missing = {"onnxruntime": engines.onnxruntime_missing(args.node), "torch": engines.torch_missing()}
    if args.require_peers and any(missing.values()):
        for name, reason in missing.items():
            if reason:
                print("compare: %s is required but %s" % (name, reason), file=sys.stderr)
        return 3
    available = ["ours"] + [name for name, reason in missing.items() if reason is None]

    failures = []
    load_before = os.getloadavg()
    if load_before[0] > 0.5:
        progress("the machine is busy (load average %.2f): every engine will suffer, spinning thread "
                 "pools most; the load is recorded in the results" % load_before[0])
    try:
        model = make_model(args)
        config = bench_common.model_config(model)
    except (engines.EngineError, OSError, ValueError) as error:
        print("compare: %s" % error, file=sys.stderr)
        return 4
    inputs, onnx_files = prepare_inputs(args, model, config, available, failures)
    configs = []
    for batch in args.batches:
        for threads in args.thread_counts:
            configs.append(run_config(args, binary, model, inputs, onnx_files, available,
                                      batch, threads, len(configs), failures))

    ours_document = next((row["ours"]["document"] for row in configs if "document" in row.get("ours", {})), {})
    for row in configs:
        row.get("ours", {}).pop("document", None)
        for key in [key for key in row if key.startswith("ours_") and isinstance(row[key], dict)]:
            row[key].pop("document", None)
    versions = {}
    for row in configs:
        for key in ("onnxruntime_version", "node_version", "torch_version", "blas"):
            for engine in ("onnxruntime", "torch"):
                if key in row.get(engine, {}):
                    versions.setdefault(engine, {})[key] = row[engine].pop(key)
    document = {
        "schema_version": bench_common.SCHEMA_VERSION,
        "command": "compare",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        # bench schema 2 keeps these in one place: machine.cpu, machine.dnnl_isa, tool.build.
        "cpu": ours_document.get("machine", {}).get("cpu") or ours_document.get("cpu") or cpu_model(),
        "lscpu_model": cpu_model(),
        "isa": ours_document.get("machine", {}).get("dnnl_isa") or ours_document.get("isa", "unknown"),
        "build": ours_document.get("tool", {}).get("build") or ours_document.get("build", "unknown"),
        "commit": git_commit(),
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
        "arch": config.get("arch", args.arch),
        "model": model,
        "runs": args.runs,
        "warmup": args.warmup,
        "dtype": args.dtype,
        "timed": "forward pass only, on one preallocated input tensor per batch size, the same for all "
                 "engines; model loading, preprocessing, graph optimisation and warm-up excluded",
        "fairness": FAIRNESS,
        "engines": {
            "ours": {"available": True, "binary": binary},
            "onnxruntime": dict(available=missing["onnxruntime"] is None, reason=missing["onnxruntime"],
                                **versions.get("onnxruntime", {})),
            "torch": dict(available=missing["torch"] is None, reason=missing["torch"],
                          **versions.get("torch", {})),
        },
        "configs": configs,
        "failures": failures,
    }
    if args.json:
        print(json.dumps(document, indent=1))
    else:
        print_table(document)
    return 4 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
