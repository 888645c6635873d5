#!/usr/bin/python3
"""The PyTorch peer: times the forward pass of the reference DeiT (float32, eager) on the CPU.

    /usr/bin/python3 bench/torch_bench.py --model M.safetensors --batch 1 --threads 2 [--runs 30]
                                          [--warmup 5] [--input X.bin]

Timed: `model(x)` under torch.inference_mode on one preallocated input tensor (X.bin, as written by
bench_common.write_raw, or bench_common.make_input's seeded tensor). Model loading and warm-up runs
are not. Prints one JSON document on stdout.

Debian's torch does its matrix products through whatever libblas.so.3 the alternatives system
points at. With the netlib reference BLAS that is ~40x slower than OpenBLAS and any comparison is
meaningless, so the BLAS is checked first, by identity: the library torch's sgemm_ resolves to
must be an optimised BLAS (OpenBLAS, BLIS or MKL, known by a symbol only they export). Otherwise
the script refuses to report (exit 4) unless --allow-slow-blas, and then says so in the JSON
("blas": {"ok": false}). A timed 1024^3 matmul is reported as information, never judged: on a fast
CPU the reference BLAS passes any fixed speed bar.
Exit codes: 0 ok, 2 usage, 3 model unreadable, 4 not an optimised BLAS, or a runtime error.
"""
import argparse
import ctypes
import json
import os
import sys
import time

# Optimised BLAS libraries, told apart by a symbol only they export, and how each names its version.
OPTIMISED_BLAS = (
    ("openblas", "openblas_get_config"),
    ("blis", "bli_info_get_version_str"),
    ("mkl", "MKL_Get_Version_String"),
)


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


class _DlInfo(ctypes.Structure):
    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]


def _defining_library(handle, symbol):
    """The real path of the shared object that `symbol` resolves to when looked up through
    `handle`, or None when the handle does not see it."""
    try:
        function = getattr(handle, symbol)
    except AttributeError:
        return None
    info = _DlInfo()
    libc = ctypes.CDLL(None)
    if not libc.dladdr(ctypes.cast(function, ctypes.c_void_p), ctypes.byref(info)) or not info.dli_fname:
        return None
    return os.path.realpath(info.dli_fname.decode())


def sgemm_provider():
    """Which library torch's float32 matrix products really call: torch's libtorch_cpu binds
    `sgemm_` first in the global scope (LD_PRELOAD, the executable), then in its own dependency
    tree, so the same two lookups, in that order, name the library that runs. Returns
    (path, name, version), name one of OPTIMISED_BLAS's or "reference" / "unknown"."""
    torch_cpu = [path for path in _mapped_paths() if "libtorch_cpu" in os.path.basename(path)]
    handles = [ctypes.CDLL(None)] + [ctypes.CDLL(path) for path in torch_cpu[:1]]
    path = None
    for handle in handles:
        path = _defining_library(handle, "sgemm_")
        if path:
            break
    if path is None:
        return None, "unknown", None
    library = ctypes.CDLL(path)
    for name, marker in OPTIMISED_BLAS:
        if hasattr(library, marker):
            version = None
            if name == "openblas":
                getter = library.openblas_get_config
                getter.restype = ctypes.c_char_p
                version = getter().decode(errors="replace").strip()
            return path, name, version
    # Debian's netlib reference BLAS lives in .../blas/ (the alternatives' default); any other
    # library that exports sgemm_ without an optimised BLAS's marker is reported as unknown.
    if os.path.basename(os.path.dirname(path)) == "blas":
        return path, "reference", None
    return path, "unknown", None


def _mapped_paths():
    paths = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split()
            if len(fields) >= 6 and fields[-1].startswith("/") and fields[-1] not in paths:
                paths.append(fields[-1])
    return paths


def check_blas(torch, threads):
    """Identifies the BLAS by what is loaded, never by its speed: the library that torch's sgemm_
    resolves to must be an optimised one. The 1024^3 matmul rate is information only (a fast CPU
    runs even the reference BLAS at several GFLOP/s)."""
    a = torch.randn(1024, 1024)
    b = torch.randn(1024, 1024)
    a @ b  # loads and initialises the BLAS
    libraries = loaded_blas_libraries()
    blas_threads = openblas_threads(libraries, threads)
    provider_path, provider, version = sgemm_provider()
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    gflops = 2 * 1024 ** 3 / best / 1e9
    return {
        "libraries": libraries,
        "sgemm_library": provider_path,
        "provider": provider,
        "version": version,
        "openblas_threads": blas_threads,
        "matmul_1024_gflops": round(gflops, 2),
        "ok": provider in {name for name, _ in OPTIMISED_BLAS},
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
        kind = "the reference BLAS" if blas["provider"] == "reference" else "not a known optimised BLAS"
        message = ("torch_bench: torch's sgemm_ resolves to %s (%s), %s; install libopenblas0-pthread "
                   "(a 1024^3 matmul ran at %.1f GFLOP/s)"
                   % (blas["sgemm_library"] or "no library", blas["provider"], kind, blas["matmul_1024_gflops"]))
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
