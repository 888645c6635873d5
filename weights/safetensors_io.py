"""Reading and writing the safetensors container (SPEC section 7) with numpy only.

    write_safetensors(path, tensors, metadata)
    read_safetensors(path) -> (tensors, metadata)
    bf16_to_f32(array) -> float32 array      (exact widening)
    f32_to_bf16(array) -> BF16 array         (round to nearest even)

BF16 representation: numpy has no bfloat16, so a BF16 tensor is an ordinary ndarray whose dtype
is the one-field structured dtype `BF16` below (a 2-byte little-endian record named "bf16").
The dtype itself carries the flag, so shape, slicing and `tobytes()` (the exact stored bits)
keep working, while arithmetic on it fails loudly instead of silently treating the bits as
integers. Use bf16_to_f32 to compute with it.

Layout written: 8-byte little-endian header length, the JSON header padded with spaces so the
data starts at a multiple of 8, then every tensor's bytes back to back in name order (the format
forbids holes, so nothing is padded between tensors).
"""
import json
import os
import struct
import tempfile

import numpy as np

BF16 = np.dtype([("bf16", "<u2")])

# safetensors dtype name <-> numpy dtype, little-endian as the format requires.
_NUMPY_OF = {"F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "BF16": BF16}

# A header longer than this is not a model we wrote; the reference implementation uses 100 MB.
_MAX_HEADER_BYTES = 100 * 1024 * 1024


def bf16_to_f32(array):
    """Widen a BF16 array (or raw uint16 bits) to float32, exactly."""
    bits = np.ascontiguousarray(array).view("<u2").astype(np.uint32)
    return (bits << 16).view(np.float32)


def f32_to_bf16(array):
    """Round float32 values to BF16 (nearest, ties to even; NaN stays NaN)."""
    values = np.ascontiguousarray(array, dtype=np.float32)
    bits = values.view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    # Rounding a NaN could carry into the exponent and turn it into Inf: keep a quiet NaN.
    nan_bits = ((bits >> 16) | 0x0040)
    out = np.where(np.isnan(values), nan_bits, rounded).astype("<u2")
    return out.view(BF16)


def _dtype_name(array, name):
    if array.dtype == BF16:
        return "BF16"
    for key, dtype in _NUMPY_OF.items():
        if array.dtype == dtype or array.dtype == dtype.newbyteorder("="):
            return key
    raise ValueError(f"tensor {name}: dtype {array.dtype} is not F32, F16 or BF16")


def write_safetensors(path, tensors, metadata):
    """Write `tensors` (name -> ndarray) and `metadata` (str -> str) to `path`."""
    header = {}
    if metadata:
        for key, value in metadata.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise ValueError(f"metadata {key!r}: keys and values must be strings")
        header["__metadata__"] = dict(sorted(metadata.items()))
    names = sorted(tensors)
    chunks = []
    offset = 0
    for name in names:
        if name == "__metadata__":
            raise ValueError("a tensor may not be called __metadata__")
        array = tensors[name]
        dtype = _dtype_name(array, name)
        data = np.ascontiguousarray(array).astype(_NUMPY_OF[dtype], copy=False).tobytes()
        header[name] = {"dtype": dtype, "shape": [int(s) for s in array.shape],
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    # Write beside the target, then rename: a crash never leaves a half-written model behind,
    # and a failed write (a full disk) leaves no temporary file either.
    if os.path.isdir(path):
        raise ValueError(f"{path}: is a folder, not a file name")
    fd, tmp_path = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".tmp",
                                    dir=os.path.dirname(path) or ".")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(struct.pack("<Q", len(text)))
            out.write(text)
            for data in chunks:
                out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    except BaseException:
        if os.path.exists(tmp_path):
            os.unlink(tmp_path)
        raise


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def read_safetensors(path):
    """Read a safetensors file: (name -> ndarray, metadata dict). Raises ValueError naming the
    file (and tensor) on any malformed content."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError(f"{path}: too short for a safetensors file ({len(blob)} bytes)")
    (header_len,) = struct.unpack("<Q", blob[:8])
    if header_len > min(_MAX_HEADER_BYTES, len(blob) - 8):
        raise ValueError(f"{path}: header length {header_len} exceeds the file size")
    try:
        header = json.loads(blob[8:8 + header_len].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: header is not valid JSON ({err})") from None
    if not isinstance(header, dict):
        raise ValueError(f"{path}: header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise ValueError(f"{path}: __metadata__ must map strings to strings")
    data = memoryview(blob)[8 + header_len:]
    tensors = {}
    for name in sorted(header):
        tensors[name] = _tensor_from_entry(path, name, header[name], data)
    return tensors, metadata


def _tensor_from_entry(path, name, entry, data):
    where = f"{path}: {name}"
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: entry is not an object")
    dtype = _NUMPY_OF.get(entry.get("dtype"))
    if dtype is None:
        raise ValueError(f"{where}: unsupported dtype {entry.get('dtype')!r}")
    shape = entry.get("shape")
    offsets = entry.get("data_offsets")
    if not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape):
        raise ValueError(f"{where}: bad shape {shape!r}")
    if (not isinstance(offsets, list) or len(offsets) != 2
            or not all(isinstance(o, int) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1] <= len(data)):
        raise ValueError(f"{where}: data_offsets {offsets!r} outside the {len(data)} data bytes")
    numel = 1
    for s in shape:
        numel *= s
    if offsets[1] - offsets[0] != numel * dtype.itemsize:
        raise ValueError(f"{where}: {offsets[1] - offsets[0]} bytes for shape {shape} "
                         f"of {entry['dtype']}")
    raw = bytes(data[offsets[0]:offsets[1]])
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
