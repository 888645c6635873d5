"""The PyTorch peer's model: the project's reference DeiT (tests/reference/deit_ref.py) in float32.

The reference spells LayerNorm and GELU out in elementary ops so that it reads like the SPEC; as a
benchmark peer that would charge PyTorch for several extra passes over memory that no real user
pays. `native_ops()` swaps in torch's fused F.layer_norm and F.gelu (the same formulas: biased
variance, eps 1e-6, exact erf GELU) while timing or exporting. The DeiT itself is not duplicated.
"""
import contextlib

import torch
import torch.nn.functional as F

import bench_common


def _layer_norm_native(x, weight, bias):
    deit_ref = bench_common.import_reference()
    return F.layer_norm(x, (x.shape[-1],), weight, bias, deit_ref.LN_EPS)


def _gelu_native(x):
    return F.gelu(x)  # approximate="none": the erf form


@contextlib.contextmanager
def native_ops():
    deit_ref = bench_common.import_reference()
    saved = deit_ref.layer_norm, deit_ref.gelu_erf
    deit_ref.layer_norm, deit_ref.gelu_erf = _layer_norm_native, _gelu_native
    try:
        yield
    finally:
        deit_ref.layer_norm, deit_ref.gelu_erf = saved


def load_model(path, dtype=torch.float32):
    """-> (deit_ref.DeiT in eval mode, config dict) for the .safetensors file at `path`."""
    deit_ref = bench_common.import_reference()
    config = bench_common.model_config(path)
    tensors, _ = deit_ref.load_safetensors(path)
    model = deit_ref.DeiT(config, dtype=dtype)
    model.load_state(tensors)
    model.eval()
    return model, config
