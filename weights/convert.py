#!/usr/bin/python3
"""Convert a DeiT / Sparsifiner checkpoint (.pth, .pth.tar or .safetensors) into the one-file
safetensors model that sparsifiner loads, with the geometry in `__metadata__` (METADATA.md).

    convert.py INPUT -o OUT.safetensors [--key model] [--dtype f32|f16|bf16] [...]

Needs only Python and numpy: torch is never imported and nothing in the checkpoint is executed
(see pth_reader.py). Exit codes follow cli/EXIT_CODES.md: 2 usage, 3 invalid or unsafe input,
4 cannot write the output.
"""
import argparse
import json
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deit_arch  # noqa: E402
from pth_reader import CheckpointError, Placeholder, load_pth  # noqa: E402
from safetensors_io import BF16, f32_to_bf16, bf16_to_f32  # noqa: E402
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402

CONVERTER = "convert.py 1"
EXIT_USAGE, EXIT_INPUT, EXIT_OUTPUT = 2, 3, 4
REQUIRED = ("patch_embed.proj.weight", "pos_embed", "cls_token", "blocks.0.attn.qkv.weight",
            "head.weight")
PREDICTOR = "blocks.{}.attn.mask_predictor."
BLOCK_TENSORS = [f"{layer}.{kind}" for layer in ("norm1", "attn.qkv", "attn.proj", "norm2",
                                                 "mlp.fc1", "mlp.fc2")
                 for kind in ("weight", "bias")]

# Metadata of an input .safetensors that describes the model rather than its shapes; kept when
# re-writing one of our own files (shapes are always re-derived from the tensors).
KEPT_INPUT_METADATA = ("arch", "num_heads", "label_set", "class_names", "keep_rate",
                       "basis_coef_topk", "basis_threshold", "prune_at", "token_keep", "seed",
                       "untrained", "mean", "std", "crop_pct", "evaluation", "training",
                       "description")

# Field names under which a training run's `args` (or a nested config) may carry the Sparsifiner
# hyper-parameters: the official config's upper-case names and common lower-case spellings.
ARGS_ALIASES = {
    "keep_rate": ("keep_rate", "attn_keep_rate"),
    "token_keep": ("base_rate", "token_keep_rate", "token_keep_rate_base"),
    "prune_at": ("pruning_loc", "token_pruning_loc"),
    "basis_threshold": ("basis_threshold",),
    "basis_coef_topk": ("basis_coef_topk",),
}


class ConvertError(Exception):
    def __init__(self, message, code=EXIT_INPUT):
        super().__init__(message)
        self.code = code


def warn(message):
    print(f"convert.py: {message}", file=sys.stderr)


def parse_args(argv):
    p = argparse.ArgumentParser(prog="convert.py", description=__doc__.split("\n\n")[0])
    p.add_argument("input", help=".pth / .pth.tar (torch.save zip format) or .safetensors")
    p.add_argument("-o", "--output", required=True, help="the .safetensors file to write")
    p.add_argument("--key", help="which state dict of a training checkpoint (default: model)")
    p.add_argument("--dtype", choices=("f32", "f16", "bf16"),
                   help="store tensors as this dtype (default: keep each stored dtype)")
    p.add_argument("--arch", help="informative model name for the metadata")
    p.add_argument("--num-heads", type=int, help="H, when D is not a DeiT width")
    p.add_argument("--img-size", type=int, help="check: the size pos_embed was trained for")
    p.add_argument("--patch-size", type=int, help="check: the patch size")
    p.add_argument("--num-classes", type=int, help="check: the number of classes")
    p.add_argument("--label-set", choices=("imagenet1k", "none"),
                   help="built-in class names (default: imagenet1k for 1000 classes)")
    p.add_argument("--keep-rate", type=float, help="Sparsifiner attention keep rate")
    p.add_argument("--basis-coef-topk", type=int, help="Sparsifiner basis coefficients kept")
    p.add_argument("--basis-threshold", type=float, help="Sparsifiner basis threshold")
    p.add_argument("--prune-at", help="token-pruning blocks, e.g. 3,6,9 ('' or none: none)")
    p.add_argument("--token-keep", type=float, help="base token keep rate r")
    p.add_argument("--mean", help="input normalisation mean, one value or one per channel "
                   "(default: the checkpoint's args.mean, else ImageNet's for RGB)")
    p.add_argument("--std", help="input normalisation std, same form (default: args.std)")
    p.add_argument("--crop-pct", type=float,
                   help="evaluation crop_pct in (0, 1] (default: args.crop_pct, else 0.875)")
    p.add_argument("--class-names", metavar="FILE",
                   help="class names, one per line (default: the checkpoint's class_names)")
    p.add_argument("--metadata", action="append", default=[], metavar="KEY=VALUE",
                   help="an informative metadata entry, e.g. evaluation='{...}' (repeatable); "
                   "keys the converter derives or has a flag for are refused")
    p.add_argument("--print-metadata", action="store_true",
                   help="print the written metadata as JSON on stdout")
    args = p.parse_args(argv)
    if args.prune_at is not None:
        try:
            args.prune_at = deit_arch.parse_int_list(args.prune_at)
        except ValueError:
            p.error(f"--prune-at: expected a comma list of block numbers, got '{args.prune_at}'")
    for name in ("keep_rate", "token_keep", "crop_pct"):
        value = getattr(args, name)
        if value is not None and not 0.0 < value <= 1.0:
            p.error(f"--{name.replace('_', '-')}: must be in (0, 1], got {value}")
    deit_arch.parse_normalisation_flags(p, args)
    args.metadata = parse_metadata_flags(p, args.metadata)
    return args


# Keys --metadata may set: informative ones the engine only displays (weights/METADATA.md).
# Everything else either describes the tensors (derived here) or has its own checked flag.
FREE_METADATA_KEYS = ("evaluation", "training", "description")


def parse_metadata_flags(parser, entries):
    """["evaluation={...}"] -> {"evaluation": "{...}"}; `evaluation` must be a JSON object."""
    metadata = {}
    for entry in entries:
        key, equals, value = entry.partition("=")
        if not equals or not key:
            parser.error(f"--metadata: expected KEY=VALUE, got '{entry}'")
        if key not in FREE_METADATA_KEYS:
            parser.error(f"--metadata: '{key}' cannot be set this way (free keys: "
                         f"{', '.join(FREE_METADATA_KEYS)}; the others are derived or have a flag)")
        if key in metadata:
            parser.error(f"--metadata: '{key}' given twice")
        if key == "evaluation":
            try:
                parsed = json.loads(value)
            except ValueError as err:
                parser.error(f"--metadata evaluation: not JSON ({err})")
            if not isinstance(parsed, dict):
                parser.error("--metadata evaluation: must be a JSON object")
        metadata[key] = value
    return metadata


# ---------------------------------------------------------------- reading and layout


def load_input(path):
    """-> (top-level object, metadata of a safetensors input or {})."""
    if not os.path.isfile(path):
        raise ConvertError(f"{path}: no such file")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic.startswith(b"PK"):
        return load_pth(path), {}
    if path.endswith(".safetensors"):
        try:
            tensors, metadata = read_safetensors(path)
        except ValueError as err:
            raise ConvertError(str(err)) from None
        return tensors, metadata
    if magic[:1] == b"\x80":
        raise ConvertError(f"{path}: a pre-1.6 (legacy, non-zip) PyTorch checkpoint; re-save it "
                           f"with torch.save from torch >= 1.6")
    raise ConvertError(f"{path}: neither a zip-format PyTorch checkpoint nor a .safetensors file")


def is_array(value):
    return isinstance(value, np.ndarray)


def describe_found(path, obj):
    """One line saying what the file holds, for a refused layout."""
    if isinstance(obj, Placeholder):
        return f"a pickled {obj.qualname} object (a whole model? save its state_dict() instead)"
    if not isinstance(obj, dict):
        return f"a {type(obj).__name__}"
    keys = [str(k) for k in obj]
    tensors = [k for k in keys if is_array(obj[k])]
    nested = [f"{k}.{n}" for k in keys if isinstance(obj[k], dict)
              for n in list(obj[k])[:3] if is_array(obj[k][n])]
    shown = (tensors or nested)[:5]
    return (f"top-level keys [{', '.join(keys[:12])}{', ...' if len(keys) > 12 else ''}]; "
            f"tensors e.g. [{', '.join(shown)}]")


def select_state_dict(path, obj, key):
    """Find the model's state dict among the layouts of the brief: {"model": sd}, plain sd,
    training checkpoints (`key` chooses model / model_ema / ...)."""
    if isinstance(obj, dict):
        if key is not None:
            if not isinstance(obj.get(key), dict):
                raise ConvertError(f"{path}: no state dict under --key '{key}'; found "
                                   f"{describe_found(path, obj)}")
            return obj[key]
        if any(name in obj or "module." + name in obj for name in REQUIRED):
            return obj
        for default_key in ("model", "state_dict"):
            if isinstance(obj.get(default_key), dict):
                return obj[default_key]
    raise ConvertError(f"{path}: unknown layout, not a DeiT checkpoint: found "
                       f"{describe_found(path, obj)}")


def clean_state_dict(path, sd):
    """Strip a DataParallel `module.` prefix, keep tensors, widen F64 to F32."""
    names = [str(k) for k in sd]
    if names and all(n.startswith("module.") for n in names):
        sd = {k[len("module."):]: v for k, v in sd.items()}
    missing = [n for n in REQUIRED if n not in sd]
    if missing:
        shown = ", ".join(sorted(str(k) for k in sd)[:6])
        raise ConvertError(f"{path}: unknown layout, not a DeiT state dict: missing "
                           f"{', '.join(missing)}; found {len(sd)} entries e.g. [{shown}]")
    tensors = {}
    for name, value in sd.items():
        if not is_array(value):
            raise ConvertError(f"{path}: {name}: a {type(value).__name__}, not a tensor")
        if value.dtype == np.float64:
            warn(f"{name}: F64 stored as F32 (the format allows F32, F16, BF16)")
            value = value.astype(np.float32)
        elif value.dtype not in (np.float32, np.float16, BF16):
            raise ConvertError(f"{path}: {name}: dtype {value.dtype} is not a float type "
                               f"(only F32, F16 and BF16 weights can be stored)")
        tensors[str(name)] = value
    return tensors


# ---------------------------------------------------------------- geometry


def shape_of(tensors, name):
    return tuple(int(s) for s in tensors[name].shape)


def infer_geometry(path, t, args):
    """Geometry from shapes (SPEC 1 and 2); flags are checked against the tensors."""
    patch = shape_of(t, "patch_embed.proj.weight")
    if len(patch) != 4 or patch[2] != patch[3]:
        raise ConvertError(f"{path}: patch_embed.proj.weight: expected [D, C, P, P], got "
                           f"{list(patch)}")
    D, in_chans, P = patch[0], patch[1], patch[2]
    depth = 0
    while f"blocks.{depth}.attn.qkv.weight" in t:
        depth += 1
    for name in t:
        match = re.match(r"blocks\.(\d+)\.", name)
        if match and int(match.group(1)) >= depth:
            raise ConvertError(f"{path}: {name}: block beyond the {depth} consecutive blocks")
    for i in range(depth):
        for part in BLOCK_TENSORS:
            if f"blocks.{i}.{part}" not in t:
                raise ConvertError(f"{path}: blocks.{i}.{part}: missing")
    distilled = "dist_token" in t
    extra = 2 if distilled else 1
    pos = shape_of(t, "pos_embed")
    patches = pos[1] - extra if len(pos) == 3 else -1
    grid = int(round(max(patches, 0) ** 0.5))
    if patches <= 0 or grid * grid != patches:
        raise ConvertError(f"{path}: pos_embed: shape {list(pos)} is not [1, grid^2 + {extra}, D]")
    geo = {
        "embed_dim": D, "depth": depth, "patch_size": P, "in_chans": in_chans,
        "mlp_hidden": shape_of(t, "blocks.0.mlp.fc1.weight")[0],
        "num_classes": shape_of(t, "head.weight")[0], "distilled": distilled,
        "img_size": grid * P,
    }
    for flag, key in (("img_size", "img_size"), ("patch_size", "patch_size"),
                      ("num_classes", "num_classes")):
        value = getattr(args, flag)
        if value is not None and value != geo[key]:
            raise ConvertError(f"{path}: --{flag.replace('_', '-')} {value} disagrees with the "
                               f"tensors, which imply {geo[key]}", EXIT_USAGE)
    return geo


def heads_from_args(obj):
    """num_heads recorded in a training checkpoint's `args` (an integer), else None."""
    if not isinstance(obj, dict) or not isinstance(obj.get("args"), (Placeholder, dict)):
        return None
    value = find_field(obj["args"], ("num_heads",))
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def infer_heads(path, t, geo, args, input_meta, checkpoint_heads=None):
    D = geo["embed_dim"]
    predictor_d = None
    name = PREDICTOR.format(0) + "proj_c_q.weight"
    if name in t:
        predictor_d = shape_of(t, name)[1]  # the head dim d the predictor was built for
    if args.num_heads is not None:
        heads = args.num_heads
    elif "num_heads" in input_meta:
        heads = int(input_meta["num_heads"])
    elif predictor_d:
        heads = D // predictor_d
    elif checkpoint_heads is not None:
        heads = checkpoint_heads
        if heads <= 0 or D % heads:  # the checkpoint's word, not the user's: invalid input
            raise ConvertError(f"{path}: args.num_heads {heads} does not divide embed_dim {D}")
    elif D in deit_arch.HEADS_BY_WIDTH:
        heads = deit_arch.HEADS_BY_WIDTH[D]
    else:
        raise ConvertError(f"{path}: embed_dim {D} is not a DeiT width (192, 384, 768): pass "
                           f"--num-heads", EXIT_USAGE)
    if heads <= 0 or D % heads:
        raise ConvertError(f"{path}: num_heads {heads} does not divide embed_dim {D}", EXIT_USAGE)
    if predictor_d and D // heads != predictor_d:
        raise ConvertError(f"{path}: {name}: head dim {predictor_d} disagrees with num_heads "
                           f"{heads} (D/H = {D // heads})", EXIT_USAGE)
    return heads


def infer_predictor(path, t, geo, heads):
    """-> (c, K, N) of the mask predictor, identical in every block, or None for plain DeiT."""
    present = [i for i in range(geo["depth"]) if PREDICTOR.format(i) + "proj_n" in t]
    if not present:
        return None
    d = geo["embed_dim"] // heads
    found = None
    for i in range(geo["depth"]):
        prefix = PREDICTOR.format(i)
        need = [prefix + s for s in ("proj_c_q.weight", "proj_c_q.bias", "proj_c_k.weight",
                                     "proj_c_k.bias", "proj_n", "proj_back_n")]
        absent = [n for n in need if n not in t]
        if absent:
            raise ConvertError(f"{path}: {absent[0]}: missing (other blocks have a predictor)")
        c = shape_of(t, need[0])[0]
        N, K = (shape_of(t, need[4]) + (0, 0))[:2]
        expected = {need[0]: (c, d), need[1]: (c,), need[2]: (c, d), need[3]: (c,),
                    need[4]: (N, K), need[5]: (N, K)}
        for name, shape in expected.items():
            if shape_of(t, name) != shape:
                raise ConvertError(f"{path}: {name}: shape {list(shape_of(t, name))}, expected "
                                   f"{list(shape)}")
        if found and found != (c, K, N):
            raise ConvertError(f"{path}: {need[0]}: predictor size differs from block 0")
        found = (c, K, N)
    return found


def reduce_n_factor(N, K):
    """The factor f with K = floor(N / f): the default 6 when it fits, else the smallest."""
    if N // deit_arch.DEFAULT_REDUCE_N_FACTOR == K:
        return deit_arch.DEFAULT_REDUCE_N_FACTOR
    for f in range(1, N + 1):
        if N // f == K:
            return f
    return None


def find_field(obj, aliases, depth=0):
    """Search a training run's args (placeholders, dicts, nested configs) for a field whose
    name, case-insensitively, is one of `aliases`."""
    if depth > 3:
        return None
    fields = obj.fields() if isinstance(obj, Placeholder) else obj if isinstance(obj, dict) else {}
    for key, value in fields.items():
        if isinstance(key, str) and key.lower() in aliases:
            return value
    for value in fields.values():
        if isinstance(value, (dict, Placeholder)):
            hit = find_field(value, aliases, depth + 1)
            if hit is not None:
                return hit
    return None


def hyper_from_args(obj):
    """Sparsifiner hyper-parameters recorded in a training checkpoint's `args`, checked."""
    if not isinstance(obj, dict) or not isinstance(obj.get("args"), (Placeholder, dict)):
        return {}
    found = {}
    for key, aliases in ARGS_ALIASES.items():
        value = find_field(obj["args"], aliases)
        if value is None:
            continue
        if isinstance(value, Placeholder):
            value = list(value.list_items)
        try:
            if key == "prune_at":
                found[key] = [int(v) for v in value]
            elif key == "basis_coef_topk":
                found[key] = int(value)
            else:
                found[key] = float(value)
        except (TypeError, ValueError):
            warn(f"args.{aliases[0]}: ignored, unexpected value {str(value)[:40]}")
    return found


def float_values(value):
    """A scalar or a sequence of numbers from a checkpoint -> list of floats, None if neither."""
    if isinstance(value, Placeholder):
        value = list(value.list_items)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [float(value)]
    if isinstance(value, (list, tuple)) and value and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return [float(v) for v in value]
    return None


def preprocessing_from_checkpoint(obj):
    """mean, std, crop_pct (under `args`) and class_names (top level) that a training run
    recorded, as train_fashion.py's release checkpoints do; {} for what is absent."""
    found = {}
    if not isinstance(obj, dict):
        return found
    if isinstance(obj.get("args"), (Placeholder, dict)):
        for key in ("mean", "std", "crop_pct"):
            raw = find_field(obj["args"], (key,))
            if raw is None:
                continue
            values = float_values(raw)
            if values is None or (key == "crop_pct" and len(values) != 1):
                warn(f"args.{key}: ignored, unexpected value {str(raw)[:40]}")
                continue
            found[key] = values[0] if key == "crop_pct" else values
    names = obj.get("class_names")
    if names is not None:
        if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
            warn("class_names: ignored, not a list of strings")
        else:
            found["class_names"] = list(names)
    return found


def read_class_names(path):
    """--class-names FILE: one name per line, blank lines skipped."""
    try:
        with open(path, encoding="utf-8") as f:
            return [line.strip() for line in f if line.strip()]
    except (OSError, UnicodeDecodeError) as err:
        raise ConvertError(f"{path}: cannot read the class names ({err})", EXIT_USAGE) from None


def apply_preprocessing(path, meta, geo, recorded, args):
    """mean / std / crop_pct / class_names into meta: flags win over what the checkpoint
    recorded, which wins over what an input .safetensors had; checked as the loader checks."""
    C, in_chans = geo["num_classes"], geo["in_chans"]
    mean = args.mean if args.mean is not None else recorded.get("mean")
    std = args.std if args.std is not None else recorded.get("std")
    from_meta = {key: deit_arch.parse_float_list(meta[key]) for key in ("mean", "std") if key in meta}
    mean = mean if mean is not None else from_meta.get("mean")
    std = std if std is not None else from_meta.get("std")
    problem = deit_arch.normalisation_problem(mean, std, in_chans)
    if problem:
        raise ConvertError(f"{path}: {problem}", EXIT_USAGE)
    for key, values in (("mean", mean), ("std", std)):
        if values is not None:
            meta[key] = deit_arch.meta_float_list(values)
    crop_pct = args.crop_pct if args.crop_pct is not None else recorded.get("crop_pct")
    if crop_pct is not None:
        if not 0.0 < crop_pct <= 1.0:
            raise ConvertError(f"{path}: args.crop_pct {crop_pct} is not in (0, 1]")
        meta["crop_pct"] = deit_arch.meta_float(crop_pct)
    names, origin = None, None
    if args.class_names is not None:
        names, origin = read_class_names(args.class_names), args.class_names
    elif "class_names" in recorded:
        names, origin = recorded["class_names"], f"{path}: class_names"
    if names is not None:
        if len(names) != C:
            raise ConvertError(f"{origin}: {len(names)} class names for the head's {C} classes",
                               EXIT_USAGE if args.class_names else EXIT_INPUT)
        meta["class_names"] = json.dumps(names, ensure_ascii=False)


# ---------------------------------------------------------------- metadata and output


def build_metadata(path, geo, heads, predictor, hyper, input_meta, args):
    D = geo["embed_dim"]
    meta = {
        "format": deit_arch.FORMAT_NAME, "format_version": deit_arch.FORMAT_VERSION,
        "embed_dim": str(D), "num_heads": str(heads), "depth": str(geo["depth"]),
        "mlp_hidden": str(geo["mlp_hidden"]), "patch_size": str(geo["patch_size"]),
        "img_size": str(geo["img_size"]), "in_chans": str(geo["in_chans"]),
        "num_classes": str(geo["num_classes"]),
        "distilled": deit_arch.meta_bool(geo["distilled"]),
        "sparsifiner": deit_arch.meta_bool(predictor is not None),
        "source": os.path.basename(path), "converter": CONVERTER,
    }
    arch = deit_arch.ARCH_BY_WIDTH.get(D, "deit_custom")
    if geo["distilled"]:
        arch += "_distilled"
    if predictor is not None:
        arch = "sparsifiner_" + arch
    meta["arch"] = arch
    if geo["num_classes"] == deit_arch.IMAGENET_CLASSES:
        meta["label_set"] = "imagenet1k"
    if predictor is not None:
        c, K, N = predictor
        d = D // heads
        meta.update({
            "keep_rate": deit_arch.meta_float(deit_arch.DEFAULT_KEEP_RATE),
            # Small images give K < 8 compressed tokens: top-k cannot exceed K.
            "basis_coef_topk": str(min(deit_arch.DEFAULT_BASIS_COEF_TOPK, K)),
            "basis_threshold": deit_arch.meta_float(deit_arch.DEFAULT_BASIS_THRESHOLD),
            "prune_at": "",
        })
        if d % c == 0:
            meta["reduce_c_factor"] = str(d // c)
        else:
            warn(f"predictor c={c} does not divide d={d}: reduce_c_factor not recorded")
        factor = reduce_n_factor(N, K)
        if factor is None:
            warn(f"no factor f gives K={K} = floor({N} / f): reduce_n_factor not recorded")
        else:
            meta["reduce_n_factor"] = str(factor)
        for key, value in hyper.items():
            warn(f"{key} taken from the checkpoint's args: {value}")
            meta[key] = (deit_arch.meta_int_list(value) if key == "prune_at"
                         else str(value) if key == "basis_coef_topk"
                         else deit_arch.meta_float(value))
    for key in KEPT_INPUT_METADATA:
        if key in input_meta and key != "num_heads":
            meta[key] = input_meta[key]
    # Flags override everything.
    if args.arch:
        meta["arch"] = args.arch
    if args.label_set == "none":
        meta.pop("label_set", None)
    elif args.label_set == "imagenet1k":
        if geo["num_classes"] != deit_arch.IMAGENET_CLASSES:
            raise ConvertError(f"{path}: --label-set imagenet1k needs 1000 classes, the head has "
                               f"{geo['num_classes']}", EXIT_USAGE)
        meta["label_set"] = "imagenet1k"
    if args.keep_rate is not None:
        meta["keep_rate"] = deit_arch.meta_float(args.keep_rate)
    if args.basis_coef_topk is not None:
        meta["basis_coef_topk"] = str(args.basis_coef_topk)
    if args.basis_threshold is not None:
        meta["basis_threshold"] = deit_arch.meta_float(args.basis_threshold)
    if args.prune_at is not None:
        bad = [b for b in args.prune_at if not 0 <= b < geo["depth"]]
        if bad:
            raise ConvertError(f"{path}: --prune-at {bad[0]} is not a block "
                               f"(0..{geo['depth'] - 1})", EXIT_USAGE)
        meta["prune_at"] = deit_arch.meta_int_list(args.prune_at)
    if args.token_keep is not None:
        meta["token_keep"] = deit_arch.meta_float(args.token_keep)
    meta.update(args.metadata)
    return meta


def cast_tensors(tensors, dtype):
    """Re-encode every tensor as `dtype`; None keeps each stored dtype bit for bit."""
    if dtype is None:
        return tensors
    out = {}
    for name, value in tensors.items():
        wide = bf16_to_f32(value) if value.dtype == BF16 else value.astype(np.float32)
        if dtype == "f32":
            out[name] = wide
        elif dtype == "f16":
            out[name] = value if value.dtype == np.float16 else wide.astype(np.float16)
        else:
            out[name] = value if value.dtype == BF16 else f32_to_bf16(wide)
    return out


def convert(args):
    check_output_path(args.output)
    obj, input_meta = load_input(args.input)
    sd = select_state_dict(args.input, obj, args.key)
    tensors = clean_state_dict(args.input, sd)
    geo = infer_geometry(args.input, tensors, args)
    heads = infer_heads(args.input, tensors, geo, args, input_meta, heads_from_args(obj))
    predictor = infer_predictor(args.input, tensors, geo, heads)
    hyper = hyper_from_args(obj) if predictor is not None else {}
    meta = build_metadata(args.input, geo, heads, predictor, hyper, input_meta, args)
    apply_preprocessing(args.input, meta, geo, preprocessing_from_checkpoint(obj), args)
    tensors = cast_tensors(tensors, args.dtype)
    try:
        write_safetensors(args.output, tensors, meta)
    except OSError as err:
        raise ConvertError(f"{args.output}: cannot write ({err.strerror})", EXIT_OUTPUT) from None
    except ValueError as err:
        raise ConvertError(str(err), EXIT_OUTPUT) from None
    warn(f"wrote {args.output}: {meta['arch']}, {len(tensors)} tensors")
    return meta


def check_output_path(path):
    """Before the work: -o must name a file in an existing, writable folder."""
    if os.path.isdir(path) or path.endswith("/"):
        raise ConvertError(f"{path}: is a folder, not a file name", EXIT_OUTPUT)
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise ConvertError(f"{path}: cannot write: folder {folder} does not exist", EXIT_OUTPUT)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConvertError(f"{path}: cannot write in folder {folder} (permission denied)", EXIT_OUTPUT)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        meta = convert(args)
    except CheckpointError as err:
        print(f"convert.py: {err}", file=sys.stderr)
        return EXIT_INPUT
    except ConvertError as err:
        print(f"convert.py: {err}", file=sys.stderr)
        return err.code
    except Exception as err:  # a bug here must still end in one line, not a traceback
        print(f"convert.py: {args.input}: internal error: {type(err).__name__}: {err}",
              file=sys.stderr)
        return EXIT_OUTPUT
    if args.print_metadata:
        try:
            print(json.dumps(meta, indent=1, sort_keys=True), flush=True)
        except BrokenPipeError:  # `convert.py ... --print-metadata | head` is not an error
            sys.stdout = None
    return 0


if __name__ == "__main__":
    sys.exit(main())
