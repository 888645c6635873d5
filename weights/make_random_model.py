#!/usr/bin/python3
"""Write a seeded random (UNTRAINED) DeiT or Sparsifiner model in sparsifiner's safetensors
layout: the right tensor names and shapes (SPEC sections 1 and 2) and full metadata, for tests
and as the bundled default model until a trained one is bundled.

    make_random_model.py --arch deit_tiny [--distilled] [--sparsifiner] [--img-size 224]
        [--patch-size 16] [--num-classes 1000] [--seed 0] [--dtype f32|f16|bf16] [--peaky]
        [--in-chans 1 --mean 0.286 --std 0.353] [--crop-pct 1.0] -o OUT.safetensors

Deterministic: numpy's Generator(PCG64(seed)) draws every tensor in one fixed order, so the same
arguments give the same bytes on every run. Initialisation follows timm's ViT: truncated normal
(std 0.02, cut at 2 std) for Linear and conv weights, pos_embed, dist_token and the predictor's
projections; zero biases; LayerNorm weight 1, bias 0; cls_token normal with std 1e-6.
--peaky makes attention far from uniform (useful for testing sparse attention): the q and k
rows of every qkv weight are scaled by a per-head factor in [4, 8], and biases and LayerNorm
affine parameters are perturbed.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deit_arch  # noqa: E402
from safetensors_io import f32_to_bf16, write_safetensors  # noqa: E402

GENERATOR = "make_random_model.py 1"


def parse_args(argv):
    p = argparse.ArgumentParser(prog="make_random_model.py",
                                description="Write a seeded random (untrained) DeiT model.")
    p.add_argument("--arch", required=True, choices=sorted(deit_arch.DEIT_ARCHS))
    p.add_argument("--distilled", action="store_true", help="add dist_token and head_dist")
    p.add_argument("--sparsifiner", action="store_true", help="add the mask predictor tensors")
    p.add_argument("--img-size", type=int, default=224)
    p.add_argument("--patch-size", type=int, default=16)
    p.add_argument("--num-classes", type=int, default=deit_arch.IMAGENET_CLASSES)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dtype", choices=("f32", "f16", "bf16"), default="f32")
    p.add_argument("--peaky", action="store_true", help="scale q/k up, perturb biases and norms")
    p.add_argument("--in-chans", type=int, default=3, help="input channels (1 = grey)")
    p.add_argument("--mean", help="normalisation mean, one value or one per channel "
                   "(required unless --in-chans is 3)")
    p.add_argument("--std", help="normalisation std, same form")
    p.add_argument("--crop-pct", type=float, help="evaluation crop_pct in (0, 1] (default 0.875)")
    p.add_argument("-o", "--output", required=True)
    args = p.parse_args(argv)
    if args.patch_size <= 0 or args.img_size <= 0 or args.img_size % args.patch_size:
        p.error(f"--img-size {args.img_size} is not a positive multiple of the patch size "
                f"{args.patch_size}")
    if args.num_classes <= 0:
        p.error("--num-classes must be positive")
    if args.seed < 0:
        p.error("--seed must be non-negative")
    if not 1 <= args.in_chans <= 16:
        p.error("--in-chans must be from 1 to 16")
    deit_arch.parse_normalisation_flags(p, args)
    problem = deit_arch.normalisation_problem(args.mean, args.std, args.in_chans)
    if problem:
        p.error(problem)
    if args.crop_pct is not None and not 0.0 < args.crop_pct <= 1.0:
        p.error(f"--crop-pct: must be in (0, 1], got {args.crop_pct}")
    return args


def trunc_normal(rng, shape, std):
    """Normal(0, std) cut at +-2 std by redrawing, as timm's trunc_normal_ with a=-2std, b=2std."""
    x = rng.standard_normal(shape, dtype=np.float32)
    outside = np.abs(x) > 2.0
    while outside.any():
        x[outside] = rng.standard_normal(int(outside.sum()), dtype=np.float32)
        outside = np.abs(x) > 2.0
    return x * np.float32(std)


def model_shapes(args):
    """Name -> (shape, init kind) in the fixed drawing order."""
    D, H, depth, hidden = deit_arch.DEIT_ARCHS[args.arch]
    P, C = args.patch_size, args.num_classes
    grid = args.img_size // P
    N = grid * grid + (2 if args.distilled else 1)
    d = D // H
    c = d // deit_arch.DEFAULT_REDUCE_C_FACTOR
    K = predictor_K(args)
    shapes = [("cls_token", (1, 1, D), "tiny")]
    if args.distilled:
        shapes.append(("dist_token", (1, 1, D), "normal"))
    shapes += [("pos_embed", (1, N, D), "normal"),
               ("patch_embed.proj.weight", (D, args.in_chans, P, P), "normal"),
               ("patch_embed.proj.bias", (D,), "zeros")]
    linears = [("attn.qkv", 3 * D, D), ("attn.proj", D, D), ("mlp.fc1", hidden, D),
               ("mlp.fc2", D, hidden)]
    for i in range(depth):
        b = f"blocks.{i}."
        shapes += [(b + "norm1.weight", (D,), "ones"), (b + "norm1.bias", (D,), "zeros"),
                   (b + "norm2.weight", (D,), "ones"), (b + "norm2.bias", (D,), "zeros")]
        for name, out_dim, in_dim in linears:
            shapes += [(b + name + ".weight", (out_dim, in_dim), "normal"),
                       (b + name + ".bias", (out_dim,), "zeros")]
        if args.sparsifiner:
            m = b + "attn.mask_predictor."
            for proj in ("proj_c_q", "proj_c_k"):
                shapes += [(m + proj + ".weight", (c, d), "normal"),
                           (m + proj + ".bias", (c,), "zeros")]
            shapes += [(m + "proj_n", (N, K), "normal"), (m + "proj_back_n", (N, K), "normal")]
    shapes += [("norm.weight", (D,), "ones"), ("norm.bias", (D,), "zeros"),
               ("head.weight", (C, D), "normal"), ("head.bias", (C,), "zeros")]
    if args.distilled:
        shapes += [("head_dist.weight", (C, D), "normal"), ("head_dist.bias", (C,), "zeros")]
    return shapes


def make_tensors(args):
    rng = np.random.Generator(np.random.PCG64(args.seed))
    tensors = {}
    for name, shape, kind in model_shapes(args):
        if kind == "normal":
            tensors[name] = trunc_normal(rng, shape, 0.02)
        elif kind == "tiny":
            tensors[name] = rng.standard_normal(shape, dtype=np.float32) * np.float32(1e-6)
        elif kind == "ones":
            tensors[name] = np.ones(shape, dtype=np.float32)
        else:
            tensors[name] = np.zeros(shape, dtype=np.float32)
    if args.peaky:
        make_peaky(rng, tensors, args)
    return tensors


def make_peaky(rng, tensors, args):
    """Sharper attention: with std-0.02 weights every q.k is ~0 and softmax is near uniform,
    which hides top-k mistakes; larger q and k rows give each query a few dominant keys."""
    D, H, depth, _ = deit_arch.DEIT_ARCHS[args.arch]
    d = D // H
    for i in range(depth):
        qkv = tensors[f"blocks.{i}.attn.qkv.weight"]
        factors = rng.uniform(4.0, 8.0, size=(2, H)).astype(np.float32)
        for part in range(2):  # q rows [0, D), k rows [D, 2D), per head
            for h in range(H):
                start = part * D + h * d
                qkv[start:start + d] *= factors[part, h]
    for name in sorted(tensors):
        if name.endswith(".bias") and "mask_predictor" not in name:
            tensors[name] += trunc_normal(rng, tensors[name].shape, 0.05)
        elif "norm" in name and name.endswith(".weight"):
            tensors[name] += trunc_normal(rng, tensors[name].shape, 0.1)
    tensors["cls_token"] = trunc_normal(rng, tensors["cls_token"].shape, 0.02)


def predictor_K(args):
    grid = args.img_size // args.patch_size
    return (grid * grid + (2 if args.distilled else 1)) // deit_arch.DEFAULT_REDUCE_N_FACTOR


def make_metadata(args):
    D, H, depth, hidden = deit_arch.DEIT_ARCHS[args.arch]
    arch = args.arch + ("_distilled" if args.distilled else "")
    if args.sparsifiner:
        arch = "sparsifiner_" + arch
    meta = {
        "format": deit_arch.FORMAT_NAME, "format_version": deit_arch.FORMAT_VERSION,
        "arch": arch + ("_peaky" if args.peaky else "") + "_untrained",
        "untrained": "true", "seed": str(args.seed),
        "embed_dim": str(D), "num_heads": str(H), "depth": str(depth),
        "mlp_hidden": str(hidden), "patch_size": str(args.patch_size),
        "img_size": str(args.img_size), "in_chans": str(args.in_chans),
        "num_classes": str(args.num_classes),
        "distilled": deit_arch.meta_bool(args.distilled),
        "sparsifiner": deit_arch.meta_bool(args.sparsifiner),
        "source": f"random weights, seed {args.seed}", "converter": GENERATOR,
    }
    if args.num_classes == deit_arch.IMAGENET_CLASSES:
        meta["label_set"] = "imagenet1k"
    if args.mean is not None:
        meta["mean"] = deit_arch.meta_float_list(args.mean)
    if args.std is not None:
        meta["std"] = deit_arch.meta_float_list(args.std)
    if args.crop_pct is not None:
        meta["crop_pct"] = deit_arch.meta_float(args.crop_pct)
    if args.sparsifiner:
        meta.update({
            "keep_rate": deit_arch.meta_float(deit_arch.DEFAULT_KEEP_RATE),
            # Small images give K < 8 compressed tokens: top-k cannot exceed K.
            "basis_coef_topk": str(min(deit_arch.DEFAULT_BASIS_COEF_TOPK, predictor_K(args))),
            "basis_threshold": deit_arch.meta_float(deit_arch.DEFAULT_BASIS_THRESHOLD),
            "reduce_c_factor": str(deit_arch.DEFAULT_REDUCE_C_FACTOR),
            "reduce_n_factor": str(deit_arch.DEFAULT_REDUCE_N_FACTOR),
            "prune_at": "",
        })
    return meta


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    tensors = make_tensors(args)
    if args.dtype == "f16":
        tensors = {k: v.astype(np.float16) for k, v in tensors.items()}
    elif args.dtype == "bf16":
        tensors = {k: f32_to_bf16(v) for k, v in tensors.items()}
    out_dir = os.path.dirname(os.path.abspath(args.output))
    try:
        os.makedirs(out_dir, exist_ok=True)
        write_safetensors(args.output, tensors, make_metadata(args))
    except OSError as err:
        print(f"make_random_model.py: {args.output}: cannot write ({err.strerror})",
              file=sys.stderr)
        return 4
    return 0


if __name__ == "__main__":
    sys.exit(main())
