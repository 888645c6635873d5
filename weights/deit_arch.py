"""DeiT geometry shared by convert.py and make_random_model.py (SPEC sections 1 and 2) and the
`__metadata__` writing conventions of weights/METADATA.md."""

# name -> (embed D, heads H, depth, MLP hidden), SPEC section 1.
DEIT_ARCHS = {
    "deit_tiny": (192, 3, 12, 768),
    "deit_small": (384, 6, 12, 1536),
    "deit_base": (768, 12, 12, 3072),
}
HEADS_BY_WIDTH = {dims[0]: dims[1] for dims in DEIT_ARCHS.values()}
ARCH_BY_WIDTH = {dims[0]: name for name, dims in DEIT_ARCHS.items()}

# Sparsifiner defaults (SPEC section 2, official default config).
DEFAULT_KEEP_RATE = 0.25
DEFAULT_BASIS_COEF_TOPK = 8
DEFAULT_BASIS_THRESHOLD = 0.02
DEFAULT_REDUCE_C_FACTOR = 2
DEFAULT_REDUCE_N_FACTOR = 6

FORMAT_NAME = "sparsifiner-deit"
FORMAT_VERSION = "1"
IMAGENET_CLASSES = 1000


def meta_bool(value):
    return "true" if value else "false"


def meta_float(value):
    """Shortest text that reads back as the same double ('0.25', '0.02')."""
    return repr(float(value))


def meta_int_list(values):
    return ",".join(str(int(v)) for v in values)


def parse_int_list(text):
    """'3,6,9' -> [3, 6, 9]; '' or 'none' -> []."""
    text = text.strip()
    if text in ("", "none"):
        return []
    return [int(part) for part in text.split(",")]
