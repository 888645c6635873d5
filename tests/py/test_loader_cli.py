"""End to end through the CLI: `sparsifiner info -m FILE` on a tiny valid model and on corrupt copies.

A model-file problem must give exit code 3 (cli/EXIT_CODES.md), exactly one line on stderr naming
the file and the problem, and nothing on stdout. The models are written here byte by byte
(struct + json), so the test controls every offset and does not depend on any other script.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import find_binary  # noqa: E402

BIN = find_binary() or "sparsifiner"  # else the one on PATH
EXIT_MODEL_ERROR = 3

# A tiny custom DeiT: numbers chosen to be distinctive in `info` output.
D, HEADS, DEPTH, HIDDEN, PATCH, IMG, CLASSES = 24, 3, 2, 40, 4, 8, 7
TOKENS = (IMG // PATCH) ** 2 + 1


def tensor_list():
    """(name, shape) of every tensor a plain DeiT of the geometry above must hold (SPEC section 1)."""
    names = [("cls_token", [1, 1, D]), ("pos_embed", [1, TOKENS, D]),
             ("patch_embed.proj.weight", [D, 3, PATCH, PATCH]), ("patch_embed.proj.bias", [D])]
    for i in range(DEPTH):
        p = "blocks.%d." % i
        names += [(p + "norm1.weight", [D]), (p + "norm1.bias", [D]),
                  (p + "attn.qkv.weight", [3 * D, D]), (p + "attn.qkv.bias", [3 * D]),
                  (p + "attn.proj.weight", [D, D]), (p + "attn.proj.bias", [D]),
                  (p + "norm2.weight", [D]), (p + "norm2.bias", [D]),
                  (p + "mlp.fc1.weight", [HIDDEN, D]), (p + "mlp.fc1.bias", [HIDDEN]),
                  (p + "mlp.fc2.weight", [D, HIDDEN]), (p + "mlp.fc2.bias", [D])]
    names += [("norm.weight", [D]), ("norm.bias", [D]), ("head.weight", [CLASSES, D]), ("head.bias", [CLASSES])]
    return names


def numel(shape):
    count = 1
    for dim in shape:
        count *= dim
    return count


def encode(name, dtype, shape):
    """Small deterministic values in the given storage format."""
    n = numel(shape)
    values = [((i * 7 + len(name)) % 17 - 8) / 64.0 for i in range(n)]
    if dtype == "F32":
        return struct.pack("<%df" % n, *values)
    if dtype == "F16":
        return struct.pack("<%de" % n, *values)
    if dtype == "BF16":  # the top half of each f32 (exact: these values need few mantissa bits)
        return b"".join(struct.pack("<f", v)[2:] for v in values)
    raise ValueError(dtype)


def build(tensors=None, metadata=None, dtypes=None, header_override=None):
    """Returns the bytes of a safetensors file. `tensors` is [(name, shape)], laid out in order."""
    tensors = tensor_list() if tensors is None else tensors
    dtypes = dtypes or {}
    header = {}
    if metadata is None:
        metadata = {"format": "sparsifiner-deit", "format_version": "1", "embed_dim": str(D),
                    "num_heads": str(HEADS), "depth": str(DEPTH), "mlp_hidden": str(HIDDEN),
                    "patch_size": str(PATCH), "img_size": str(IMG), "num_classes": str(CLASSES)}
    if metadata:
        header["__metadata__"] = metadata
    data = b""
    for name, shape in tensors:
        dtype = dtypes.get(name, "F32")
        blob = encode(name, dtype, shape)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(blob)]}
        data += blob
    if header_override:
        header_override(header)
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def header_size(blob):
    return struct.unpack("<Q", blob[:8])[0]


class LoaderCliTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="sparsifiner_loader_")
        self.addCleanup(self.dir.cleanup)

    def write(self, name, blob):
        path = os.path.join(self.dir.name, name)
        with open(path, "wb") as f:
            f.write(blob)
        return path

    def info(self, path):
        return subprocess.run([BIN, "info", "-m", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=120)

    def assert_model_error(self, path, *problem_words):
        result = self.info(path)
        stderr = result.stderr.decode("utf-8", "replace")
        self.assertEqual(result.returncode, EXIT_MODEL_ERROR, "exit code for %s; stderr: %s" % (path, stderr))
        self.assertEqual(result.stdout, b"", "stdout must stay empty on a model error")
        lines = stderr.strip("\n").split("\n")
        self.assertEqual(len(lines), 1, "stderr must be one line, got: %r" % stderr)
        self.assertIn(os.path.basename(path), lines[0])
        for word in problem_words:
            self.assertIn(word, lines[0])
        return lines[0]

    def test_valid_model_loads(self):
        result = self.info(self.write("good.safetensors", build()))
        self.assertEqual(result.returncode, 0, result.stderr.decode())
        out = result.stdout.decode()
        # Whatever the layout, geometry output names the width and the MLP size of this model.
        self.assertIn(str(D), out)
        self.assertIn(str(HIDDEN), out)

    def test_valid_model_with_half_precision_tensors_loads(self):
        dtypes = {"head.weight": "F16", "blocks.1.mlp.fc1.weight": "BF16"}
        result = self.info(self.write("half.safetensors", build(dtypes=dtypes)))
        self.assertEqual(result.returncode, 0, result.stderr.decode())

    def test_truncated(self):
        good = build()
        self.assert_model_error(self.write("tiny.safetensors", good[:5]), "too short")
        # Cut inside the header: the declared header length now exceeds the file.
        self.assert_model_error(self.write("cut_header.safetensors", good[:8 + header_size(good) // 2]),
                                "header length")
        # Cut inside the data: the last tensor's range runs past the end.
        self.assert_model_error(self.write("cut_data.safetensors", good[:-10]), "ends past the data area")

    def test_header_length_beyond_file(self):
        good = build()
        bad = struct.pack("<Q", len(good)) + good[8:]
        self.assert_model_error(self.write("long_header.safetensors", bad), "header length")
        huge = struct.pack("<Q", 1 << 63) + good[8:]
        self.assert_model_error(self.write("huge_header.safetensors", huge), "header length")

    def test_header_not_json(self):
        text = b'{"cls_token": {"dtype": "F32", '
        self.assert_model_error(self.write("not_json.safetensors", struct.pack("<Q", len(text)) + text),
                                "JSON")

    def test_unknown_dtype(self):
        def to_f64(header):
            header["norm.bias"]["dtype"] = "F64"
            begin = header["norm.bias"]["data_offsets"][0]
            header["norm.bias"]["shape"] = [D // 2]  # same byte count, so only the dtype is wrong
            header["norm.bias"]["data_offsets"] = [begin, begin + D * 4]
        self.assert_model_error(self.write("f64.safetensors", build(header_override=to_f64)),
                                "norm.bias", "unsupported dtype F64")

    def test_offsets_out_of_bounds(self):
        def push_out(header):
            begin, end = header["head.bias"]["data_offsets"]
            header["head.bias"]["data_offsets"] = [begin + 1000, end + 1000]
        self.assert_model_error(self.write("oob.safetensors", build(header_override=push_out)),
                                "head.bias", "ends past the data area")

    def test_overlapping_ranges(self):
        def overlap(header):
            header["norm.weight"]["data_offsets"] = list(header["norm.bias"]["data_offsets"])
        self.assert_model_error(self.write("overlap.safetensors", build(header_override=overlap)),
                                "norm", "overlaps")

    def test_missing_tensor(self):
        tensors = [t for t in tensor_list() if t[0] != "blocks.1.attn.proj.weight"]
        self.assert_model_error(self.write("missing.safetensors", build(tensors=tensors)),
                                "blocks.1.attn.proj.weight", "missing")

    def test_wrong_shape(self):
        tensors = [(name, [HIDDEN, D + 1] if name == "blocks.0.mlp.fc1.weight" else shape)
                   for name, shape in tensor_list()]
        self.assert_model_error(self.write("shape.safetensors", build(tensors=tensors)),
                                "blocks.0.mlp.fc1.weight", "expected [%d, %d]" % (HIDDEN, D),
                                "found [%d, %d]" % (HIDDEN, D + 1))

    def test_unexpected_tensor(self):
        tensors = tensor_list() + [("blocks.0.attn.bogus", [3])]
        self.assert_model_error(self.write("extra.safetensors", build(tensors=tensors)),
                                "blocks.0.attn.bogus", "unexpected")

    def test_missing_file(self):
        path = os.path.join(self.dir.name, "absent.safetensors")
        self.assert_model_error(path)

    def test_directory_as_model(self):
        path = os.path.join(self.dir.name, "a_directory.safetensors")
        os.mkdir(path)
        self.assert_model_error(path, "directory")


if __name__ == "__main__":
    unittest.main()
