"""Reading PyTorch checkpoints (the zip format torch.save writes since 1.6) without torch and
without ever executing code from the file.

A checkpoint is a zip holding `<prefix>/data.pkl` (a pickle of the saved object), one entry
`<prefix>/data/<key>` per storage with its raw bytes, and small `version` / `byteorder` entries.
Unpickling is done by a restricted Unpickler:
  - the few globals a state dict needs (tensor and parameter rebuilders, OrderedDict, the
    storage classes) resolve to local functions of this module;
  - globals of modules or names able to act on the system (os, subprocess, builtins.eval, ...)
    are refused with UnsafePickleError, before anything is called;
  - any other global (argparse.Namespace, numpy scalars, a config class, ...) becomes an inert
    Placeholder class that records its name and swallows its arguments and state.
Nothing is ever imported, so safety does not depend on the deny list being complete: the deny
list only makes an obviously hostile file fail loudly instead of loading.

Tensors come back as contiguous numpy arrays (BF16 as safetensors_io.BF16).
"""
import collections
import pickle
import zipfile

import numpy as np

from safetensors_io import BF16


class CheckpointError(Exception):
    """The file is not a readable checkpoint. The message is one line."""


class UnsafePickleError(CheckpointError):
    """The pickle references a global that could act on the system."""


# Legacy typed storage classes: element dtype as numpy sees it.
_STORAGE_DTYPES = {
    "FloatStorage": np.dtype("<f4"), "HalfStorage": np.dtype("<f2"), "BFloat16Storage": BF16,
    "DoubleStorage": np.dtype("<f8"), "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"), "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"), "ByteStorage": np.dtype("u1"), "BoolStorage": np.dtype("?"),
    "UntypedStorage": np.dtype("u1"),
}

# Modules (by first component) whose globals are refused outright, and names refused wherever
# they come from. Any global referring to them in a checkpoint is an attack or a mistake.
_DENIED_MODULES = {
    "os", "posix", "nt", "subprocess", "sys", "builtins", "__builtin__", "shutil",
    "importlib", "runpy", "pty", "socket", "ctypes", "code", "codeop", "pickle", "_pickle",
    "marshal", "types", "functools", "operator", "io", "_io", "webbrowser", "multiprocessing",
    "asyncio", "signal", "tempfile", "glob", "platform", "commands", "popen2", "timeit", "pdb",
    "bdb", "profile", "cProfile", "trace", "site", "sysconfig", "distutils", "setuptools", "pip",
    "urllib", "http", "ftplib", "smtplib", "telnetlib", "xmlrpc", "shelve", "dbm", "sqlite3",
    "zipimport", "pkgutil", "inspect", "ast", "tkinter", "threading", "_thread", "gc",
    "dill", "cloudpickle", "joblib", "yaml", "requests", "zipfile",
    "tarfile",
}
_DENIED_NAMES = {
    "eval", "exec", "compile", "system", "popen", "spawn", "execv", "execve", "execl", "fork",
    "load", "loads", "__import__", "getattr", "setattr", "delattr", "open", "input", "apply",
    "call", "check_call", "check_output", "run", "Popen", "remove", "unlink", "rmtree",
    "breakpoint", "globals", "locals", "vars", "import_module",
}
# torch's own globals that are not data (loading, scripting, hub, custom ops).
_DENIED_TORCH_PREFIXES = ("torch.hub", "torch.jit", "torch.ops", "torch.classes", "torch.package",
                          "torch.utils", "torch.load", "torch.save", "torch.serialization",
                          "torch._C", "torch.distributed", "torch.cuda", "torch.backends")


class Placeholder:
    """An inert stand-in for an object of a class we refuse to import. It remembers the class
    name, the constructor arguments, the pickled state and any items set on it, so harmless
    fields (for example the keep rate in a training run's args) can still be read."""
    qualname = "?"

    # NEWOBJ creates instances with __new__ alone, so the fields are set there, not in __init__.
    def __new__(cls, *args, **kwargs):
        self = super().__new__(cls)
        self.args = args
        self.state = None
        self.items = {}
        self.list_items = []
        return self

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        self.state = state

    def __setitem__(self, key, value):
        self.items[key] = value

    def append(self, value):
        self.list_items.append(value)

    def extend(self, values):
        self.list_items.extend(values)

    def fields(self):
        """Name -> value of whatever the object carried (attributes, dict items)."""
        found = {}
        state = self.state
        if isinstance(state, tuple) and len(state) == 2:  # (dict state, slot state)
            state = {**(state[0] or {}), **(state[1] or {})}
        if isinstance(state, dict):
            found.update(state)
        found.update({k: v for k, v in self.items.items() if isinstance(k, str)})
        return found

    def __repr__(self):
        return f"<placeholder {self.qualname}>"


class Storage:
    """Raw bytes of one torch storage, typed."""

    def __init__(self, key, dtype, data):
        self.key = key
        self.dtype = dtype
        self.data = data


class _StorageType:
    """What `torch.FloatStorage` and friends resolve to: only a dtype tag for persistent ids."""

    def __init__(self, name):
        self.name = name
        self.dtype = _STORAGE_DTYPES[name]

    def __call__(self, *args, **kwargs):
        raise CheckpointError(f"storage class {self.name} called directly")


def _rebuild_tensor(storage, storage_offset, size, stride, *unused):
    """torch._utils._rebuild_tensor_v2: a view of `storage`, copied out contiguous."""
    if not isinstance(storage, Storage):
        raise CheckpointError("a tensor refers to something that is not a storage")
    size = tuple(int(s) for s in size)
    stride = tuple(int(s) for s in stride)
    offset = int(storage_offset)
    if len(size) != len(stride) or any(s < 0 for s in size) or any(s < 0 for s in stride):
        raise CheckpointError(f"storage {storage.key}: bad size {size} / stride {stride}")
    base = np.frombuffer(storage.data, dtype=storage.dtype)
    if 0 in size:
        return np.zeros(size, dtype=storage.dtype)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if offset < 0 or last >= base.size:
        raise CheckpointError(f"storage {storage.key}: tensor of size {size}, stride {stride}, "
                              f"offset {offset} reaches beyond its {base.size} elements")
    item = storage.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(base[offset:], shape=size,
                                           strides=[s * item for s in stride], writeable=False)
    return np.ascontiguousarray(view)


def _rebuild_parameter(data, *unused):
    """torch._utils._rebuild_parameter(_with_state): a parameter is just its tensor here."""
    return data


def _ordered_dict(*args):
    return collections.OrderedDict(*args)


def _reconstructor(cls, base, state=None):
    """copyreg._reconstructor for protocol-0/1 objects: never calls base.__new__ or __init__;
    only placeholder classes can be instantiated this way."""
    if isinstance(cls, type) and issubclass(cls, Placeholder):
        return cls()
    raise CheckpointError(f"copyreg._reconstructor on a non-placeholder {cls!r}")


_MAPPED = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("collections", "OrderedDict"): _ordered_dict,
    ("copyreg", "_reconstructor"): _reconstructor,
}


class _SafeUnpickler(pickle.Unpickler):
    def __init__(self, file, label, read_storage):
        super().__init__(file)
        self.label = label
        self.read_storage = read_storage
        self.storages = {}
        self.placeholders = {}

    def find_class(self, module, name):
        qualname = f"{module}.{name}"
        if (module, name) in _MAPPED:
            return _MAPPED[(module, name)]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        top = module.split(".")[0]
        leaf = name.split(".")[-1]
        private = leaf.startswith("_") and module != "numpy.core.multiarray"
        if (top in _DENIED_MODULES or leaf in _DENIED_NAMES or private
                or qualname.startswith(_DENIED_TORCH_PREFIXES)
                or not all(part.isidentifier() for part in qualname.split("."))):
            raise UnsafePickleError(f"{self.label}: refused global '{qualname}' in the pickle "
                                    f"(a checkpoint needs only tensors; nothing was executed)")
        if qualname not in self.placeholders:
            self.placeholders[qualname] = type(name.replace(".", "_"), (Placeholder,),
                                               {"qualname": qualname})
        return self.placeholders[qualname]

    def persistent_load(self, pid):
        # ('storage', storage_type, key, location, numel)
        if not isinstance(pid, tuple) or len(pid) < 5 or pid[0] != "storage":
            raise CheckpointError(f"{self.label}: unknown persistent id {str(pid)[:60]}")
        storage_type, key, numel = pid[1], str(pid[2]), pid[4]
        if not isinstance(storage_type, _StorageType):
            raise CheckpointError(f"{self.label}: storage {key} has unknown type {storage_type!r}")
        if key not in self.storages:
            expected = int(numel) * storage_type.dtype.itemsize
            data = self.read_storage(key, expected)
            if len(data) != expected:
                raise CheckpointError(f"{self.label}: storage {key} has {len(data)} bytes, "
                                      f"expected {expected}")
            self.storages[key] = Storage(key, storage_type.dtype, data)
        return self.storages[key]


# The pickle holds names and tensor descriptions, never tensor data: a few MB at most.
_MAX_PICKLE_BYTES = 64 << 20


def load_pth(path):
    """Load a zip-format PyTorch checkpoint into plain Python objects and numpy arrays."""
    label = str(path)
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise CheckpointError(f"{label}: no such file") from None
    except (zipfile.BadZipFile, OSError) as err:
        raise CheckpointError(
            f"{label}: not a zip-format PyTorch checkpoint ({err}); files written by torch < 1.6 "
            f"must be re-saved with a recent torch.save") from None
    with archive:
        try:
            return _load_from_archive(archive, label)
        except CheckpointError:
            raise
        except (zipfile.BadZipFile, OSError, EOFError, pickle.UnpicklingError, KeyError,
                ValueError, TypeError, AttributeError, IndexError, RecursionError,
                MemoryError) as err:
            detail = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise CheckpointError(f"{label}: corrupt checkpoint ({detail})") from None


def _load_from_archive(archive, label):
    pickles = [n for n in archive.namelist() if n.endswith("data.pkl")
               and n.count("/") == 1]
    if len(pickles) != 1:
        raise CheckpointError(f"{label}: expected one '<prefix>/data.pkl' in the zip, "
                              f"found {len(pickles)}")
    prefix = pickles[0][: -len("data.pkl")]
    names = set(archive.namelist())
    byteorder = "little"
    if prefix + "byteorder" in names:
        byteorder = archive.read(prefix + "byteorder").decode("ascii", "replace").strip()
        if byteorder not in ("little", "big"):
            raise CheckpointError(f"{label}: unknown byteorder '{byteorder}'")

    def read_storage(key, expected_size):
        entry = f"{prefix}data/{key}"
        if entry not in names:
            raise CheckpointError(f"{label}: storage entry '{entry}' is missing from the zip")
        # torch.save stores storages uncompressed. A compressed one could be a zip bomb (a 4 MB
        # file inflating to gigabytes): refused. A stored entry's size is bytes really in the
        # file, so nothing read here can exceed the file's size.
        info = archive.getinfo(entry)
        if info.compress_type != zipfile.ZIP_STORED:
            raise CheckpointError(f"{label}: storage {key} is compressed; torch.save writes storages "
                                  f"uncompressed (refused: a compressed entry can inflate without bound)")
        declared = info.file_size
        if declared != info.compress_size:
            raise CheckpointError(f"{label}: storage {key}: stored entry with inconsistent sizes")
        if declared != expected_size:
            raise CheckpointError(f"{label}: storage {key} has {declared} bytes, expected "
                                  f"{expected_size}")
        return archive.read(entry)

    # zipfile never inflates past an entry's declared size: bounding that bounds the pickle.
    pickle_size = archive.getinfo(pickles[0]).file_size
    if pickle_size > _MAX_PICKLE_BYTES:
        raise CheckpointError(f"{label}: {pickles[0]} declares {pickle_size} bytes, more than the "
                              f"{_MAX_PICKLE_BYTES >> 20} MiB a checkpoint's pickle needs (refused)")
    with archive.open(pickles[0]) as pkl:
        unpickler = _SafeUnpickler(pkl, label, read_storage)
        obj = unpickler.load()
    if byteorder == "big":
        # Storages were read as little-endian: swap every array once, in place of its bytes.
        obj = _swap_bytes(obj)
    return obj


def _swap_bytes(obj):
    if isinstance(obj, np.ndarray):
        if obj.dtype == BF16:
            return obj.view("<u2").byteswap().view(BF16)
        return obj.byteswap()
    if isinstance(obj, dict):
        for key in list(obj):
            obj[key] = _swap_bytes(obj[key])
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            obj[i] = _swap_bytes(value)
    return obj
