"""Tests of weights/convert.py, weights/pth_reader.py and weights/safetensors_io.py.

Checkpoints are written with the real torch.save (torch is available to the test, never to the
converter: every conversion runs in a subprocess where `import torch` is made to fail and
torch's absence from sys.modules is checked at exit). Outputs are compared bit for bit with the
torch tensors. Run: SPARSIFINER_SOURCE_DIR=/work/main /usr/bin/python3 tests/py/test_converter.py
"""
import argparse
import json
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import unittest
import zipfile

import numpy as np
import torch

SOURCE_DIR = os.environ.get("SPARSIFINER_SOURCE_DIR",
                            os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
WEIGHTS_DIR = os.path.join(SOURCE_DIR, "weights")
CONVERT = os.path.join(WEIGHTS_DIR, "convert.py")
sys.path.insert(0, WEIGHTS_DIR)
from safetensors_io import BF16, bf16_to_f32, f32_to_bf16  # noqa: E402
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "py"))
from harness import find_binary, run  # noqa: E402

# Runs convert.py as __main__ with torch made unimportable; exit 99 if torch got loaded anyway.
NO_TORCH_WRAPPER = """
import os, runpy, sys
sys.modules['torch'] = None
script = sys.argv[1]
sys.argv = sys.argv[1:]
try:
    runpy.run_path(script, run_name='__main__')
finally:
    if sys.modules.get('torch') is not None or any(m.startswith('torch.') for m in sys.modules):
        sys.stderr.write('TORCH WAS IMPORTED\\n')
        os._exit(99)
"""


def run_convert(*args, cwd=None):
    proc = run([sys.executable, "-c", NO_TORCH_WRAPPER, CONVERT, *args], timeout=120, cwd=cwd)
    assert proc.returncode != 99, "the converter imported torch"
    return proc


def torch_bytes(tensor):
    """The exact stored bits of a torch tensor, contiguous."""
    t = tensor.detach().contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def make_state_dict(seed=0, D=192, depth=2, grid=4, classes=10, distilled=False,
                    sparsifiner=False, dtype=torch.float32, heads=3):
    """A small DeiT-shaped state dict (names and shapes of SPEC sections 1 and 2)."""
    g = torch.Generator().manual_seed(seed)

    def r(*shape):
        return torch.randn(*shape, generator=g).to(dtype)

    extra = 2 if distilled else 1
    N = grid * grid + extra
    sd = {"cls_token": r(1, 1, D), "pos_embed": r(1, N, D),
          "patch_embed.proj.weight": r(D, 3, 16, 16), "patch_embed.proj.bias": r(D)}
    if distilled:
        sd["dist_token"] = r(1, 1, D)
    for i in range(depth):
        b = f"blocks.{i}."
        for name, shape in (("norm1", (D,)), ("norm2", (D,))):
            sd[b + name + ".weight"], sd[b + name + ".bias"] = r(*shape), r(*shape)
        for name, out_dim, in_dim in (("attn.qkv", 3 * D, D), ("attn.proj", D, D),
                                      ("mlp.fc1", 4 * D, D), ("mlp.fc2", D, 4 * D)):
            sd[b + name + ".weight"], sd[b + name + ".bias"] = r(out_dim, in_dim), r(out_dim)
        if sparsifiner:
            d = D // heads
            c, K = d // 2, N // 6
            m = b + "attn.mask_predictor."
            for name in ("proj_c_q", "proj_c_k"):
                sd[m + name + ".weight"], sd[m + name + ".bias"] = r(c, d), r(c)
            sd[m + "proj_n"], sd[m + "proj_back_n"] = r(N, K), r(N, K)
    sd["norm.weight"], sd["norm.bias"] = r(D), r(D)
    sd["head.weight"], sd["head.bias"] = r(classes, D), r(classes)
    if distilled:
        sd["head_dist.weight"], sd["head_dist.bias"] = r(classes, D), r(classes)
    return sd


class ConverterCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="convert_test_")
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def save(self, obj, name):
        path = self.path(name)
        torch.save(obj, path)
        return path

    def convert_ok(self, src, *flags):
        out = self.path(os.path.basename(src) + ".safetensors")
        proc = run_convert(src, "-o", out, *flags)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout, "", "nothing may go to stdout")
        return read_safetensors(out)

    def convert_fails(self, src, code=3):
        out = self.path("refused.safetensors")
        proc = run_convert(src, "-o", out, cwd=self.dir)
        self.assertEqual(proc.returncode, code, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, f"expected one line, got: {proc.stderr}")
        self.assertIn(os.path.basename(src), lines[0])
        self.assertFalse(os.path.exists(out), "no output may be written on error")
        return lines[0]

    def assert_same_tensors(self, expected, got):
        self.assertEqual(sorted(expected), sorted(got))
        for name, tensor in expected.items():
            self.assertEqual(list(got[name].shape), list(tensor.shape), name)
            self.assertEqual(got[name].tobytes(), torch_bytes(tensor), name)


class TestLayouts(ConverterCase):
    def test_official_release_layout_with_args(self):
        sd = make_state_dict()
        src = self.save({"model": sd, "args": argparse.Namespace(lr=5e-4, model="deit_tiny")},
                        "deit_tiny_patch16.pth")
        tensors, meta = self.convert_ok(src)
        self.assert_same_tensors(sd, tensors)
        for name in sd:
            self.assertEqual(tensors[name].dtype, np.float32)
        # 4x4 patch grid of 16-pixel patches + cls = 17 tokens, so img_size 64.
        expected = {"format": "sparsifiner-deit", "embed_dim": "192", "num_heads": "3",
                    "depth": "2", "mlp_hidden": "768", "patch_size": "16", "img_size": "64",
                    "in_chans": "3", "num_classes": "10", "distilled": "false",
                    "sparsifiner": "false", "source": "deit_tiny_patch16.pth",
                    "arch": "deit_tiny"}
        for key, value in expected.items():
            self.assertEqual(meta.get(key), value, key)
        self.assertIn("convert.py", meta["converter"])
        self.assertNotIn("label_set", meta, "10 classes are not ImageNet")

    def test_plain_state_dict_with_module_prefix_and_imagenet_head(self):
        sd = make_state_dict(D=384, heads=6, classes=1000)
        src = self.save({"module." + k: v for k, v in sd.items()}, "plain.pth")
        tensors, meta = self.convert_ok(src)
        self.assert_same_tensors(sd, tensors)
        self.assertEqual(meta["num_heads"], "6")
        self.assertEqual(meta["label_set"], "imagenet1k")
        self.assertEqual(meta["arch"], "deit_small")

    def test_non_contiguous_and_offset_tensors(self):
        sd = make_state_dict()
        D = 192
        # Transposed matrix, strided slice and a view at a storage offset: torch.save stores the
        # whole underlying storage with the view's offset and stride.
        sd["head.weight"] = torch.randn(D, 10).t()
        sd["pos_embed"] = torch.randn(1, 34, D)[:, ::2]
        sd["norm.weight"] = torch.randn(3 * D)[D:2 * D]
        sd["blocks.1.attn.proj.weight"] = torch.randn(D, 2 * D)[:, 1::2]
        self.assertFalse(sd["head.weight"].is_contiguous())
        self.assertFalse(sd["pos_embed"].is_contiguous())
        self.assertFalse(sd["blocks.1.attn.proj.weight"].is_contiguous())
        self.assertNotEqual(sd["norm.weight"].storage_offset(), 0)
        src = self.save({"model": sd}, "views.pth")
        tensors, _ = self.convert_ok(src)
        self.assert_same_tensors(sd, tensors)

    def test_f16_checkpoint_kept_bit_for_bit(self):
        sd = make_state_dict(dtype=torch.float16)
        tensors, _ = self.convert_ok(self.save({"model": sd}, "half.pth"))
        self.assert_same_tensors(sd, tensors)
        self.assertEqual(tensors["pos_embed"].dtype, np.float16)

    def test_bf16_checkpoint_kept_bit_for_bit_and_widened(self):
        sd = make_state_dict(dtype=torch.bfloat16)
        src = self.save({"model": sd}, "bf16.pth")
        tensors, _ = self.convert_ok(src)
        self.assert_same_tensors(sd, tensors)
        self.assertEqual(tensors["pos_embed"].dtype, BF16)
        widened, _ = self.convert_ok(src, "--dtype", "f32")
        for name, tensor in sd.items():
            self.assertEqual(widened[name].tobytes(), torch_bytes(tensor.float()), name)

    def test_dtype_flags_round_like_torch(self):
        sd = make_state_dict()
        sd["norm.bias"][:4] = torch.tensor([1.0 + 2 ** -8, 1.0 + 3 * 2 ** -8, 70000.0, 1e-30])
        src = self.save({"model": sd}, "f32.pth")
        as_bf16, _ = self.convert_ok(src, "--dtype", "bf16")
        as_f16, _ = self.convert_ok(src, "--dtype", "f16")
        for name, tensor in sd.items():
            self.assertEqual(as_bf16[name].tobytes(), torch_bytes(tensor.bfloat16()), name)
            self.assertEqual(as_f16[name].tobytes(), torch_bytes(tensor.half()), name)
        self.assertLess(os.path.getsize(self.path("f32.pth.safetensors")),
                        os.path.getsize(src) * 0.6, "bf16 output should be about half the size")

    def test_training_checkpoint_key_choice(self):
        sd, sd_ema = make_state_dict(seed=1), make_state_dict(seed=2)
        optimizer = {"state": {0: {"step": torch.tensor(10), "exp_avg": torch.randn(5)}},
                     "param_groups": [{"lr": 1e-3, "params": [0]}]}
        ckpt = {"model": sd, "model_ema": sd_ema, "optimizer": optimizer,
                "args": argparse.Namespace(epochs=300, output_dir="out"), "epoch": 3}
        src = self.save(ckpt, "checkpoint.pth")
        tensors, _ = self.convert_ok(src)
        self.assert_same_tensors(sd, tensors)
        ema_out = self.path("ema.safetensors")
        proc = run_convert(src, "-o", ema_out, "--key", "model_ema")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assert_same_tensors(sd_ema, read_safetensors(ema_out)[0])
        proc = run_convert(src, "-o", self.path("x.safetensors"), "--key", "nope")
        self.assertEqual(proc.returncode, 3)
        self.assertIn("model_ema", proc.stderr)  # the keys that were found are listed

    def test_distilled(self):
        sd = make_state_dict(distilled=True, D=768, heads=12, depth=1)
        tensors, meta = self.convert_ok(self.save({"model": sd}, "distilled.pth"))
        self.assert_same_tensors(sd, tensors)
        self.assertEqual(meta["distilled"], "true")
        self.assertEqual(meta["img_size"], "64")  # 18 tokens - cls - dist = 16 = 4x4 patches
        self.assertEqual(meta["num_heads"], "12")

    def test_sparsifiner_extra_keys_and_hyper_parameters(self):
        sd = make_state_dict(sparsifiner=True, grid=8)  # N = 65, K = 10, c = 32
        args = argparse.Namespace(keep_rate=0.4, base_rate=0.7, pruning_loc=[1], lr=1e-4)
        src = self.save({"model": sd, "args": args}, "sparsifiner.pth")
        tensors, meta = self.convert_ok(src)
        self.assert_same_tensors(sd, tensors)
        self.assertIn("blocks.1.attn.mask_predictor.proj_back_n", tensors)
        expected = {"sparsifiner": "true", "reduce_c_factor": "2", "reduce_n_factor": "6",
                    "basis_coef_topk": "8", "basis_threshold": "0.02",
                    "keep_rate": "0.4", "token_keep": "0.7", "prune_at": "1",
                    "img_size": "128", "num_heads": "3"}
        for key, value in expected.items():
            self.assertEqual(meta.get(key), value, key)
        # Flags override what the checkpoint's args say.
        _, meta = self.convert_ok(src, "--keep-rate", "0.3", "--prune-at", "",
                                  "--basis-coef-topk", "4")
        self.assertEqual((meta["keep_rate"], meta["prune_at"], meta["basis_coef_topk"]),
                         ("0.3", "", "4"))

    def test_sparsifiner_defaults_without_args(self):
        sd = make_state_dict(sparsifiner=True, grid=14, depth=1)  # N = 197, K = 32
        _, meta = self.convert_ok(self.save(sd, "plain_sparsifiner.pth"))
        self.assertEqual((meta["keep_rate"], meta["reduce_n_factor"], meta["prune_at"]),
                         ("0.25", "6", ""))
        self.assertEqual(meta["img_size"], "224")
        small = make_state_dict(sparsifiner=True, grid=4, depth=1)  # N = 17, K = 2
        _, meta = self.convert_ok(self.save(small, "small_sparsifiner.pth"))
        self.assertEqual(meta["basis_coef_topk"], "2", "top-k cannot exceed K")

    def test_safetensors_input_gets_metadata(self):
        sd = make_state_dict()
        src = self.path("model.safetensors")
        write_safetensors(src, {k: v.numpy() for k, v in sd.items()}, {"format": "pt"})
        tensors, meta = self.convert_ok(src, "--arch", "my_deit")
        self.assert_same_tensors(sd, tensors)
        self.assertEqual(meta["format"], "sparsifiner-deit")
        self.assertEqual(meta["arch"], "my_deit")
        self.assertEqual(meta["depth"], "2")

    def test_print_metadata_goes_to_stdout(self):
        src = self.save({"model": make_state_dict()}, "m.pth")
        proc = run_convert(src, "-o", self.path("m.safetensors"), "--print-metadata")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(json.loads(proc.stdout)["embed_dim"], "192")

    def test_metadata_flag_free_keys_only_and_shown_by_info(self):
        src = self.save({"model": make_state_dict()}, "m.pth")
        evaluation = {"data": "toy set", "top1": {"dense": 0.9, "learned@0.25": 0.875}}
        _, meta = self.convert_ok(src, "--metadata", "evaluation=" + json.dumps(evaluation),
                                  "--metadata", "description=a b=c")
        self.assertEqual(json.loads(meta["evaluation"]), evaluation)
        self.assertEqual(meta["description"], "a b=c")  # only the first '=' splits
        # Re-converting the written file keeps the informative keys.
        again = self.path("again.safetensors")
        self.assertEqual(run_convert(self.path("m.pth.safetensors"), "-o", again).returncode, 0)
        self.assertEqual(json.loads(read_safetensors(again)[1]["evaluation"]), evaluation)
        binary = find_binary()
        if binary:
            info = subprocess.run([binary, "info", "-m", again, "--json"], capture_output=True, text=True)
            self.assertEqual(info.returncode, 0, info.stderr)
            self.assertEqual(json.loads(info.stdout)["model"]["evaluation"], evaluation)
            text = subprocess.run([binary, "info", "-m", again], capture_output=True, text=True).stdout
            self.assertIn("top-1 on toy set: dense 90.00%, learned@0.25 87.50%", text)
            # The loader refuses a malformed `evaluation` in a stranger's file: one line, exit 3.
            meta_bad = dict(read_safetensors(again)[1], evaluation="[1, 2]")
            bad = self.path("bad_eval.safetensors")
            write_safetensors(bad, read_safetensors(again)[0], meta_bad)
            info = subprocess.run([binary, "info", "-m", bad], capture_output=True, text=True)
            self.assertEqual(info.returncode, 3, info.stderr)
            self.assertEqual(info.stdout, "")
            self.assertEqual(len(info.stderr.strip().splitlines()), 1, info.stderr)
            self.assertIn("evaluation", info.stderr)
        for flag, expected in (("embed_dim=12", "cannot be set"), ("evaluation=[1]", "JSON object"),
                               ("evaluation={", "not JSON"), ("nokey", "KEY=VALUE")):
            proc = run_convert(src, "-o", self.path("x.safetensors"), "--metadata", flag)
            self.assertEqual(proc.returncode, 2, flag)
            self.assertIn(expected, proc.stderr, flag)
            self.assertFalse(os.path.exists(self.path("x.safetensors")))

    def test_unknown_heads_and_bad_flags_are_usage_errors(self):
        sd = make_state_dict(D=96, heads=2)
        src = self.save(sd, "odd_width.pth")
        line = self.convert_fails(src, code=2)
        self.assertIn("--num-heads", line)
        tensors, meta = self.convert_ok(src, "--num-heads", "2")
        self.assertEqual(meta["num_heads"], "2")
        proc = run_convert(src, "-o", self.path("y.safetensors"), "--num-heads", "2",
                           "--img-size", "224")
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("img-size", proc.stderr)
        # A training checkpoint that records args.num_heads needs no flag.
        src = self.save({"model": sd, "args": argparse.Namespace(num_heads=2, lr=1e-3)}, "with_args.pth")
        tensors, meta = self.convert_ok(src)
        self.assertEqual(meta["num_heads"], "2")
        src = self.save({"model": sd, "args": argparse.Namespace(num_heads=5)}, "bad_heads.pth")
        self.assertIn("args.num_heads 5 does not divide embed_dim 96", self.convert_fails(src, code=3))


class TestRefusals(ConverterCase):
    def test_unknown_layout_lists_what_was_found(self):
        src = self.save({"foo": torch.zeros(3), "bar": 1, "weights": {"conv1.weight":
                                                                     torch.zeros(2)}}, "odd.pth")
        line = self.convert_fails(src)
        for word in ("foo", "bar", "weights"):
            self.assertIn(word, line)
        src = self.save({"model": {"conv1.weight": torch.zeros(2), "fc.bias": torch.zeros(2)}},
                        "resnet.pth")
        line = self.convert_fails(src)
        self.assertIn("conv1.weight", line)
        self.assertIn("patch_embed.proj.weight", line)  # what was expected

    def test_not_a_zip_truncated_and_empty(self):
        junk = self.path("junk.pth")
        with open(junk, "wb") as f:
            f.write(os.urandom(4096))
        self.convert_fails(junk)
        good = self.save({"model": make_state_dict()}, "good.pth")
        with open(good, "rb") as f:
            blob = f.read()
        for name, data in (("truncated.pth", blob[: len(blob) // 2]),
                           ("headless.pth", blob[len(blob) // 2:]), ("empty.pth", b"")):
            with open(self.path(name), "wb") as f:
                f.write(data)
            self.convert_fails(self.path(name))
        self.assertIn("no such file", self.convert_fails(self.path("missing.pth")))
        legacy = self.path("legacy.pth")
        torch.save({"model": make_state_dict(depth=1)}, legacy,
                   _use_new_zipfile_serialization=False)
        self.assertIn("legacy", self.convert_fails(legacy))

    def test_corrupt_storage_entry(self):
        good = self.save({"model": make_state_dict()}, "good.pth")
        bad = self.path("short_storage.pth")
        with zipfile.ZipFile(good) as zin, zipfile.ZipFile(bad, "w") as zout:
            for item in zin.infolist():
                data = zin.read(item.filename)
                if "/data/" in item.filename and item.filename.endswith("/0"):
                    data = data[:-4]
                zout.writestr(item, data)
        self.assertIn("storage", self.convert_fails(bad))

    def test_zip_bombs_are_refused_before_inflating(self):
        # A storage recompressed with deflate: torch never writes one, and a small file could
        # inflate to gigabytes (the data sizes here are tiny; refusal must not depend on them).
        good = self.save({"model": make_state_dict()}, "good.pth")
        bomb = self.path("deflated_storage.pth")
        with zipfile.ZipFile(good) as zin, zipfile.ZipFile(bomb, "w") as zout:
            for item in zin.infolist():
                compress = zipfile.ZIP_DEFLATED if "/data/" in item.filename else zipfile.ZIP_STORED
                zout.writestr(item.filename, zin.read(item.filename), compress_type=compress)
        self.assertIn("compressed", self.convert_fails(bomb))
        # A pickle declaring more than a checkpoint's pickle needs (deflated zeros: 70 MB in ~70 kB).
        fat = self.path("fat_pickle.pth")
        with zipfile.ZipFile(good) as zin, zipfile.ZipFile(fat, "w") as zout:
            for item in zin.infolist():
                data = zin.read(item.filename)
                compress = zipfile.ZIP_STORED
                if item.filename.endswith("data.pkl"):
                    data, compress = data + bytes(70 << 20), zipfile.ZIP_DEFLATED
                zout.writestr(item.filename, data, compress_type=compress)
        self.assertLess(os.path.getsize(fat), os.path.getsize(good) + (1 << 20))
        self.assertIn("MiB", self.convert_fails(fat))


class Evil:
    """Pickles to a call of `func(arg)`: what a hostile checkpoint would contain."""

    def __init__(self, func, arg):
        self.func, self.arg = func, arg

    def __reduce__(self):
        return (self.func, (self.arg,))


class TestMaliciousPickles(ConverterCase):
    def assert_refused(self, src, marker, global_name):
        line = self.convert_fails(src)
        self.assertIn(global_name, line)
        self.assertFalse(os.path.exists(marker), "the payload ran")

    def payloads(self, marker):
        return [(os.system, f"touch {marker}", "system"),
                (eval, f"__import__('os').system('touch {marker}')", "eval"),
                (exec, f"open({marker!r}, 'w').close()", "exec")]

    def test_payload_is_live_control(self):
        # Guard against a vacuous test: unpickling the same payload for real makes the marker.
        marker = self.path("CONTROL")
        src = self.save({"evil": Evil(os.system, f"touch {marker}"),
                         "model": make_state_dict(depth=1)}, "control.pth")
        with zipfile.ZipFile(src) as z:
            name = [n for n in z.namelist() if n.endswith("data.pkl")][0]
            with z.open(name) as pkl:
                try:
                    class Loose(pickle.Unpickler):
                        def persistent_load(self, pid):
                            return None
                    Loose(pkl).load()
                except Exception:
                    pass  # the storages are None, so tensor rebuilding fails after the payload
        self.assertTrue(os.path.exists(marker))

    def test_payload_next_to_a_valid_state_dict(self):
        for func, arg_template, global_name in self.payloads(self.path("MARKER")):
            marker = self.path("MARKER")
            src = self.save({"model": make_state_dict(depth=1), "evil": Evil(func, arg_template)},
                            f"evil_{global_name}.pth")
            self.assert_refused(src, marker, global_name)

    def test_payload_inside_args_namespace(self):
        marker = self.path("MARKER")
        args = argparse.Namespace(lr=1.0, hook=Evil(os.system, f"touch {marker}"))
        src = self.save({"model": make_state_dict(depth=1), "args": args}, "evil_args.pth")
        self.assert_refused(src, marker, "system")

    def test_hand_made_zip_with_bare_payload(self):
        for func, arg, global_name in self.payloads(self.path("MARKER")):
            src = self.path(f"bare_{global_name}.pth")
            with zipfile.ZipFile(src, "w") as z:
                z.writestr("archive/data.pkl", pickle.dumps(Evil(func, arg), protocol=2))
                z.writestr("archive/version", "3\n")
            self.assert_refused(src, self.path("MARKER"), global_name)


class TestSafetensorsIO(ConverterCase):
    def test_round_trip_layout_and_alignment(self):
        tensors = {"b": np.arange(5, dtype=np.float16), "a": np.ones((2, 3), np.float32),
                   "c": f32_to_bf16(np.array([1.5, -2.0, 3.0], np.float32)),
                   "scalar": np.array(2.5, np.float32), "empty": np.zeros((0, 4), np.float32)}
        path = self.path("t.safetensors")
        write_safetensors(path, tensors, {"k": "v"})
        with open(path, "rb") as f:
            blob = f.read()
        (n,) = struct.unpack("<Q", blob[:8])
        self.assertEqual((8 + n) % 8, 0, "data must start 8-aligned")
        header = json.loads(blob[8:8 + n])
        self.assertEqual(header["__metadata__"], {"k": "v"})
        names = sorted(tensors)
        ends = [header[name]["data_offsets"] for name in names]
        self.assertEqual(ends[0][0], 0)
        for (_, end), (start, _) in zip(ends, ends[1:]):
            self.assertEqual(end, start, "tensors back to back in name order")
        self.assertEqual(ends[-1][1], len(blob) - 8 - n)
        self.assertEqual(header["c"]["dtype"], "BF16")
        back, meta = read_safetensors(path)
        self.assertEqual(meta, {"k": "v"})
        for name, value in tensors.items():
            self.assertEqual(back[name].dtype, value.dtype, name)
            self.assertEqual(back[name].shape, value.shape, name)
            self.assertEqual(back[name].tobytes(), value.tobytes(), name)
        np.testing.assert_array_equal(bf16_to_f32(back["c"]), [1.5, -2.0, 3.0])

    def test_bf16_rounding_matches_torch(self):
        values = np.concatenate([np.random.default_rng(0).standard_normal(10000) * 1e3,
                                 [np.inf, -np.inf, 3.4e38, -0.0, 1e-40, 1 + 2 ** -8]])
        values = values.astype(np.float32)
        ours = f32_to_bf16(values).view(np.uint16)
        theirs = torch.from_numpy(values).bfloat16().view(torch.int16).numpy().view(np.uint16)
        np.testing.assert_array_equal(ours, theirs)
        self.assertTrue(np.isnan(bf16_to_f32(f32_to_bf16(np.array([np.nan], np.float32))))[0])

    def test_reader_rejects_bad_files(self):
        good = self.path("g.safetensors")
        write_safetensors(good, {"x": np.ones(4, np.float32)}, {})
        with open(good, "rb") as f:
            blob = f.read()
        (n,) = struct.unpack("<Q", blob[:8])
        cases = {"short": blob[:5], "huge_header": struct.pack("<Q", 1 << 40) + blob[8:],
                 "truncated_data": blob[:-4],
                 "bad_json": blob[:8] + b"[" + blob[9:],
                 "bad_offsets": blob[:8] + blob[8:8 + n].replace(b"[0,16]", b"[0,20]")
                 + blob[8 + n:]}
        for name, data in cases.items():
            path = self.path(name)
            with open(path, "wb") as f:
                f.write(data)
            with self.assertRaises(ValueError, msg=name) as ctx:
                read_safetensors(path)
            self.assertIn(path, str(ctx.exception))
            self.assertEqual(len(str(ctx.exception).splitlines()), 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
