#!/usr/bin/python3
"""The PyTorch peer: times the forward pass of the reference DeiT (float32, eager) on the CPU.

    /usr/bin/python3 bench/torch_bench.py --model M.safetensors --batch 1 --threads 2 [--runs 30]
                                          [--warmup 5] [--input X.bin]

Timed: `model(x)` under torch.inference_mode on one preallocated input tensor (X.bin, as written by
bench_common.write_raw, or bench_common.make_input's seeded tensor). Model loading and warm-up runs
are not. Prints one JSON document on stdout.

Debian's torch does its matrix products through whatever libblas.so.3 the alternatives system
points at. With the netlib reference BLAS that is ~40x slower than OpenBLAS and any comparison is
meaningless, so the BLAS is checked first (which library is mapped, and a timed 1024^3 matmul);
when it is not fast the script refuses to report (exit 4) unless --allow-slow-blas, and then says
so in the JSON ("blas": {"ok": false}).
Exit codes: 0 ok, 2 usage, 3 model unreadable, 4 slow BLAS or runtime error.
"""
import argparse
import ctypes
import json
import os
import sys
import time

# A 1024^3 product is 2.1 GFLOP: OpenBLAS does it in ~20 ms on one Zen 3 core (~100 GFLOP/s), the
# reference BLAS in about a second (~2 GFLOP/s). Anything under this rate is not an optimised BLAS.
# The bar sits well below OpenBLAS on a loaded machine (12-15 GFLOP/s were measured while a training
# job and builds shared the two cores) and well above the reference BLAS.
MIN_BLAS_GFLOPS = 5.0


def parse_args():
    parser = argparse.ArgumentParser(description="PyTorch peer of the sparsifiner benchmark")
    parser.add_argument("--model", required=True, help=".safetensors DeiT weight file")
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--input", help="raw float32 [B, 3, S, S] input (default: the seeded input)")
    parser.add_argument("--allow-slow-blas", action="store_true",
                        help="report even when torch is not using an optimised BLAS (flagged)")
    args = parser.parse_args()
    if args.batch < 1 or args.threads < 1 or args.runs < 1 or args.warmup < 0:
        parser.error("--batch, --threads and --runs must be at least 1, --warmup at least 0")
    return args


def loaded_blas_libraries():
    """Paths of the BLAS shared objects mapped into this process (libblas, libopenblas, ...)."""
    paths = set()
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            name = os.path.basename(path)
            if "blas" in name and ".so" in name:
                paths.add(os.path.realpath(path))
    return sorted(paths)


def openblas_threads(libraries, threads):
    """Sets OpenBLAS's own pthread pool to `threads` (torch.set_num_threads only sizes OpenMP's)
    and returns the count OpenBLAS then reports, or None when no OpenBLAS is mapped."""
    for path in libraries:
        library = ctypes.CDLL(path)
        if hasattr(library, "openblas_get_num_threads"):
            library.openblas_set_num_threads(threads)
            return library.openblas_get_num_threads()
    return None


def check_blas(torch, threads):
    a = torch.randn(1024, 1024)
    b = torch.randn(1024, 1024)
    a @ b  # loads and initialises the BLAS
    libraries = loaded_blas_libraries()
    blas_threads = openblas_threads(libraries, threads)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    gflops = 2 * 1024 ** 3 / best / 1e9
    return {
        "libraries": libraries,
        "openblas_threads": blas_threads,
        "matmul_1024_gflops": round(gflops, 2),
        "ok": gflops >= MIN_BLAS_GFLOPS,
    }


def main():
    args = parse_args()
    # Thread pools read these when their libraries load, so they are set before numpy and torch
    # are imported. Both the OpenMP pool (element-wise ops) and OpenBLAS's get `threads`.
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
    # torch runs element-wise ops on OpenMP threads and matrix products on OpenBLAS's own pthreads:
    # with libgomp's default spin-wait the idle OpenMP workers keep the cores busy while OpenBLAS
    # needs them (DeiT-Ti, batch 1, 2 threads on a busy 2-core machine: 2.6 s against 0.15 s with
    # PASSIVE). So PASSIVE is torch's best setting here, unless the caller chose a policy.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    import bench_common
    import reference_model

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    blas = check_blas(torch, args.threads)
    if not blas["ok"]:
        message = ("torch_bench: torch's BLAS (%s) does a 1024^3 matmul at %.1f GFLOP/s, below %.0f: "
                   "this is the reference BLAS, not OpenBLAS (install libopenblas0-pthread)"
                   % (", ".join(blas["libraries"]) or "none mapped", blas["matmul_1024_gflops"], MIN_BLAS_GFLOPS))
        if not args.allow_slow_blas:
            print(message + "; refusing to report", file=sys.stderr)
            return 4
        print(message + "; reporting anyway, flagged", file=sys.stderr)

    try:
        model, config = reference_model.load_model(args.model, torch.float32)
        if args.input:
            side = config["img_size"]
            pixels = bench_common.read_raw(args.input, (args.batch, 3, side, side))
        else:
            pixels = bench_common.make_input(config, args.batch)
    except (OSError, ValueError, KeyError) as error:
        print("torch_bench: %s: %s" % (args.model, error), file=sys.stderr)
        return 3
    x = torch.from_numpy(pixels.copy())

    samples = []
    with torch.inference_mode(), reference_model.native_ops():
        for i in range(args.warmup + args.runs):
            start = time.perf_counter()
            model(x)
            elapsed_ms = (time.perf_counter() - start) * 1e3
            if i >= args.warmup:
                samples.append(elapsed_ms)

    report = {
        "schema_version": bench_common.SCHEMA_VERSION,
        "engine": "torch",
        "torch_version": torch.__version__,
        "blas": blas,
        "omp_wait_policy": os.environ["OMP_WAIT_POLICY"],
        "model": args.model,
        "batch": args.batch,
        "threads": args.threads,
        "runs": args.runs,
        "warmup": args.warmup,
        "timed": "model(x) under torch.inference_mode, eager float32, one preallocated input; "
                 "loading and warm-up excluded",
    }
    report.update(bench_common.summarize(samples))
    report["samples_ms"] = samples
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
