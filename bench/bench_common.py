"""What the benchmark scripts share: where things are, the model geometry, the shared input tensor
and the statistics every engine is summarised with.

Kept free of torch so that compare.py can run (and skip the torch column) without it.
"""
import json
import math
import os
import struct
import sys

import numpy as np

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(BENCH_DIR)
REFERENCE_DIR = os.path.join(REPO_ROOT, "tests", "reference")
SCHEMA_VERSION = 1

# The DeiT table of SPEC section 1, used only when a file has no __metadata__ to name its heads.
HEADS_BY_WIDTH = {192: 3, 384: 6, 768: 12}


def import_reference():
    """The project's PyTorch reference (tests/reference/deit_ref.py): the only DeiT in Python."""
    if REFERENCE_DIR not in sys.path:
        sys.path.insert(0, REFERENCE_DIR)
    import deit_ref
    return deit_ref


def read_header(path):
    """-> (tensor entries name -> {dtype, shape, data_offsets}, metadata) without reading the data."""
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) != 8:
            raise ValueError("%s: shorter than the 8-byte header length" % path)
        (n,) = struct.unpack("<Q", head)
        if n > 100 * 1024 * 1024:
            raise ValueError("%s: header length %d is implausible" % (path, n))
        raw = f.read(n)
    if len(raw) != n:
        raise ValueError("%s: header runs past the end of the file" % path)
    header = json.loads(raw.decode("utf-8"))
    metadata = header.pop("__metadata__", None) or {}
    return header, metadata


def model_config(path):
    """The config dict deit_ref.DeiT expects, from __metadata__ or, when absent, from the shapes."""
    entries, meta = read_header(path)
    shape = lambda name: entries[name]["shape"] if name in entries else None
    if shape("cls_token") is None or shape("patch_embed.proj.weight") is None:
        raise ValueError("%s: not a DeiT weight file (no cls_token or patch_embed.proj.weight)" % path)
    width = shape("cls_token")[-1]
    patch = shape("patch_embed.proj.weight")[-1]
    distilled = "dist_token" in entries
    tokens = shape("pos_embed")[1] - (2 if distilled else 1)
    depth = 0
    while ("blocks.%d.attn.qkv.weight" % depth) in entries:
        depth += 1
    inferred = {
        "arch": meta.get("arch", "deit"),
        "embed_dim": width,
        "num_heads": HEADS_BY_WIDTH.get(width, 0),
        "depth": depth,
        "mlp_hidden": shape("blocks.0.mlp.fc1.weight")[0],
        "patch_size": patch,
        "img_size": int(round(math.sqrt(tokens))) * patch,
        "num_classes": shape("head.weight")[0],
        "distilled": distilled,
    }
    for key in ("embed_dim", "num_heads", "depth", "mlp_hidden", "patch_size", "img_size", "num_classes"):
        if key in meta:
            inferred[key] = int(meta[key])
    if "distilled" in meta:
        inferred["distilled"] = meta["distilled"] == "true"
    if inferred["num_heads"] <= 0:
        raise ValueError("%s: width %d is not in the DeiT table and __metadata__ has no num_heads"
                         % (path, width))
    return inferred


def make_input(config, batch, seed=0):
    """The one input tensor every engine is timed on: [B, 3, S, S] float32, seeded normal values
    (the range of normalised pixels). Dense DeiT does the same work whatever the values are."""
    rng = np.random.default_rng(seed)
    side = config["img_size"]
    return rng.standard_normal((batch, 3, side, side)).astype(np.float32)


def write_raw(path, array):
    np.ascontiguousarray(array, dtype="<f4").tofile(path)


def read_raw(path, shape):
    data = np.fromfile(path, dtype="<f4")
    if data.size != int(np.prod(shape)):
        raise ValueError("%s: %d floats, expected %d for shape %s" % (path, data.size, np.prod(shape), shape))
    return data.reshape(shape)


def percentile_nearest_rank(samples, fraction):
    """Nearest-rank percentile: the smallest sample with at least `fraction` of samples <= it.
    ort_bench.mjs implements the same definition; keep them in step."""
    ordered = sorted(samples)
    rank = max(1, int(math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


def summarize(samples_ms):
    """-> median (mean of the two middle samples when even) and nearest-rank p90, in ms."""
    ordered = sorted(samples_ms)
    n = len(ordered)
    median = ordered[n // 2] if n % 2 else 0.5 * (ordered[n // 2 - 1] + ordered[n // 2])
    return {"median_ms": median, "p90_ms": percentile_nearest_rank(ordered, 0.9)}


def parse_int_list(text, what):
    """'1,8' -> [1, 8]; every value a positive integer."""
    try:
        values = [int(item) for item in text.split(",") if item.strip()]
    except ValueError:
        raise ValueError("%s: %r is not a comma-separated list of integers" % (what, text))
    if not values or any(v <= 0 for v in values):
        raise ValueError("%s: %r must list positive integers" % (what, text))
    return values
