"""DeiT geometry shared by convert.py and make_random_model.py (SPEC sections 1 and 2) and the
`__metadata__` writing conventions of weights/METADATA.md."""
import math

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


def parse_float_list(text):
    """'0.5' or '0.485,0.456,0.406' -> list of floats; ValueError when a value is not a number."""
    return [float(part) for part in str(text).split(",")]


def meta_float_list(values):
    return ",".join(meta_float(v) for v in values)


def parse_normalisation_flags(parser, args):
    """Turns args.mean / args.std ('0.5' or '0.4,0.5,0.6', or None) into float lists in place;
    a malformed list is an argparse error naming the flag."""
    for name in ("mean", "std"):
        text = getattr(args, name)
        try:
            setattr(args, name, None if text is None else parse_float_list(text))
        except ValueError:
            parser.error(f"--{name}: '{text}' is not a comma list of numbers")


def normalisation_problem(mean, std, in_chans):
    """None when mean / std (lists, or None when absent) suit a model with in_chans channels,
    else what is wrong; the rules of the loader (weights/METADATA.md)."""
    if in_chans != 3 and (mean is None or std is None):
        return (f"a model with in_chans {in_chans} needs a mean and a std (ImageNet's are for "
                f"RGB): give --mean and --std")
    for name, values in (("mean", mean), ("std", std)):
        if values is None:
            continue
        if len(values) not in (1, in_chans):
            return (f"--{name}: {len(values)} values for in_chans {in_chans} (give one per "
                    f"channel, or one for all)")
        if not all(math.isfinite(v) for v in values):
            return f"--{name}: values must be finite numbers"
        if name == "std" and not all(v > 0 for v in values):
            return "--std: values must be > 0"
    return None
