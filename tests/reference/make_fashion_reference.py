#!/usr/bin/python3
"""Writes the reference predictions of the bundled Fashion-MNIST models, made once by the PyTorch
reference of this folder, so that tests compare the tool against them without re-running PyTorch.

    /usr/bin/python3 tests/reference/make_fashion_reference.py            # rewrite the stored file
    /usr/bin/python3 tests/reference/make_fashion_reference.py --check    # recompute and compare

What is stored (weights/models/fashion_reference.json): for each bundled model, its SHA-256 and the
top-1 class the reference (float32, SPEC semantics, reading the IDX files and the weight files
itself) predicts for every image of Debian's Fashion-MNIST 10k test split, as one string of digits.
Remake it whenever a bundled weight file changes (tests/py/test_fashion_model.py refuses a stored
file whose SHA-256 no longer matches its model) or when the reference's semantics change.
"""
import argparse
import gzip
import hashlib
import json
import os
import struct
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import deit_ref  # noqa: E402
import sparsifiner_ref  # noqa: E402

MODELS = os.path.join(SOURCE, "weights", "models")
STORED = os.path.join(MODELS, "fashion_reference.json")
FASHION = "/usr/share/datasets/fashion-mnist"
# (weight file, mask source, keep rate, the setting's name in sweep documents)
SETTINGS = (("fashion_dense.safetensors", "dense", None, "dense"),
            ("fashion_sparsifiner.safetensors", "learned", 0.25, "learned@0.25"))


def read_idx(path):
    """Images [n, 28, 28] u8 or labels [n] from a gzipped IDX file (read here, not by the tool's code)."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, count = struct.unpack(">II", data[:8])
    if magic == 0x803:
        rows, cols = struct.unpack(">II", data[8:16])
        return np.frombuffer(data, np.uint8, count * rows * cols, 16).reshape(count, rows, cols)
    return np.frombuffer(data, np.uint8, count, 8).astype(np.int64)


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def reference_top1(model_path, source, keep_rate=None, batch=500):
    """Top-1 of the reference model on the test split: pixels / 255, normalised with the file's
    mean and std (28x28 is the model's input size, so no resize or crop)."""
    tensors, meta = deit_ref.load_safetensors(model_path)
    config = sparsifiner_ref.config_from_metadata(meta)
    model = sparsifiner_ref.Sparsifiner(config, dtype=torch.float32).load_state(tensors)
    model.set_masks(source, keep_rate)
    mean, std = float(meta["mean"]), float(meta["std"])
    images = read_idx(os.path.join(FASHION, "t10k-images-idx3-ubyte.gz"))
    top1 = []
    with torch.no_grad():
        for i in range(0, len(images), batch):
            x = torch.as_tensor(np.array(images[i:i + batch]), dtype=torch.float32).unsqueeze(1) / 255.0
            features, _ = model.forward_features((x - mean) / std)
            top1.append(model.head(features).argmax(-1))
    return torch.cat(top1).numpy()


def compute():
    document = {"schema_version": 1,
                "made_by": "tests/reference/make_fashion_reference.py (PyTorch reference of tests/reference, float32)",
                "torch_version": torch.__version__,
                "data": "Debian dataset-fashion-mnist, t10k-images-idx3-ubyte.gz, all 10000 images in file order",
                "models": {}}
    for file_name, source, keep_rate, setting in SETTINGS:
        path = os.path.join(MODELS, file_name)
        top1 = reference_top1(path, source, keep_rate)
        document["models"][file_name] = {"sha256": sha256_of(path), "setting": setting,
                                         "top1": "".join(str(int(c)) for c in top1)}
        print("%s %s: %d predictions" % (file_name, setting, len(top1)), file=sys.stderr)
    return document


def load_stored(path=STORED):
    with open(path) as f:
        return json.load(f)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="recompute and compare with the stored file")
    args = parser.parse_args()
    torch.set_num_threads(1)
    document = compute()
    if args.check:
        stored = load_stored()
        differ = 0
        for name, entry in document["models"].items():
            old = stored["models"][name]
            if old["sha256"] != entry["sha256"]:
                print("%s: the stored predictions are for other weights" % name, file=sys.stderr)
                return 1
            differ += sum(a != b for a, b in zip(old["top1"], entry["top1"]))
        print("recomputed predictions differ from the stored ones on %d images" % differ, file=sys.stderr)
        return 1 if differ else 0
    with open(STORED + ".tmp", "w") as f:
        json.dump(document, f, indent=1)
        f.write("\n")
    os.replace(STORED + ".tmp", STORED)
    print("wrote " + STORED, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
