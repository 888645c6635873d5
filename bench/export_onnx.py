#!/usr/bin/python3
"""Exports the reference DeiT of a .safetensors model to ONNX for the ONNX Runtime peer.

    /usr/bin/python3 bench/export_onnx.py --model M.safetensors --batch 8 -o M_b8.onnx

One file per batch size by default (static shapes let ONNX Runtime fold and fuse the most); with
--dynamic-batch the batch axis is left symbolic. Opset 14 (LayerNorm and GELU are exported as
elementary ops, which ONNX Runtime fuses back at graphOptimizationLevel 'all').

Unless --no-check, the exported file is run once by ONNX Runtime (node, ort_bench.mjs) on the
benchmark input and its logits must agree with torch's float32 forward within 1e-4 relative
(max |ort - torch| / max |torch|); the float64 reference is reported alongside.
Exit codes: 0 ok, 2 usage, 3 model unreadable, 4 export or check failed.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import torch

import bench_common
import reference_model

RELATIVE_TOLERANCE = 1e-4
OPSET = 14


def relative_error(got, want):
    scale = float(np.max(np.abs(want)))
    return float(np.max(np.abs(got - want))) / (scale if scale > 0 else 1.0)


def export(model, config, batch, path, dynamic_batch):
    pixels = torch.from_numpy(bench_common.make_input(config, batch))
    axes = {"pixels": {0: "batch"}, "logits": {0: "batch"}} if dynamic_batch else None
    with torch.no_grad(), reference_model.native_ops(), warnings.catch_warnings():
        # The reference checks the input shape in Python; the trace freezes those checks, which is
        # right for a graph exported for one input size.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(model, (pixels,), path, opset_version=OPSET, input_names=["pixels"],
                          output_names=["logits"], dynamic_axes=axes, do_constant_folding=True)


def node_command():
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not installed: cannot check the export with ONNX Runtime (use --no-check)")
    return [node, os.path.join(bench_common.BENCH_DIR, "ort_bench.mjs")]


def check(model_path, onnx_path, batch):
    """-> (relative error vs torch float32, vs the float64 reference); raises when over tolerance."""
    model32, config = reference_model.load_model(model_path, torch.float32)
    pixels = bench_common.make_input(config, batch)
    with tempfile.TemporaryDirectory() as scratch:
        input_path = os.path.join(scratch, "input.bin")
        logits_path = os.path.join(scratch, "logits.bin")
        bench_common.write_raw(input_path, pixels)
        command = node_command() + ["--model", onnx_path, "--input", input_path, "--batch", str(batch),
                                    "--threads", "1", "--runs", "0", "--warmup", "0", "--output", logits_path]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError("ONNX Runtime could not run %s: %s" % (onnx_path, result.stderr.strip()))
        ort_logits = bench_common.read_raw(logits_path, (batch, config["num_classes"]))
    with torch.inference_mode():
        with reference_model.native_ops():
            torch32 = model32(torch.from_numpy(pixels)).numpy()
        model64, _ = reference_model.load_model(model_path, torch.float64)
        torch64 = model64(torch.from_numpy(pixels)).numpy()
    versus32 = relative_error(ort_logits, torch32)
    versus64 = relative_error(ort_logits, torch64)
    if versus32 > RELATIVE_TOLERANCE:
        raise RuntimeError("%s: ONNX Runtime logits differ from torch float32 by %.3g relative (limit %g)"
                           % (onnx_path, versus32, RELATIVE_TOLERANCE))
    return versus32, versus64


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help=".safetensors DeiT weight file")
    parser.add_argument("--batch", type=int, default=1, help="batch size of the exported graph")
    parser.add_argument("-o", "--output", required=True, help="where to write the .onnx file")
    parser.add_argument("--dynamic-batch", action="store_true", help="leave the batch axis symbolic")
    parser.add_argument("--no-check", action="store_true", help="skip the ONNX Runtime comparison")
    args = parser.parse_args()
    if args.batch < 1:
        parser.error("--batch must be at least 1")

    try:
        model, config = reference_model.load_model(args.model, torch.float32)
    except (OSError, ValueError, KeyError) as error:
        print("export_onnx: %s: %s" % (args.model, error), file=sys.stderr)
        return 3
    try:
        export(model, config, args.batch, args.output, args.dynamic_batch)
        if not args.no_check:
            versus32, versus64 = check(args.model, args.output, args.batch)
            print("export_onnx: %s: ONNX Runtime vs torch float32 %.2e relative, vs float64 reference %.2e"
                  % (args.output, versus32, versus64), file=sys.stderr)
    except (RuntimeError, OSError, ValueError) as error:
        print("export_onnx: %s" % error, file=sys.stderr)
        return 4
    return 0


if __name__ == "__main__":
    sys.exit(main())
