"""What every script test in tests/py shares: where the source tree, the build and the binary are,
one way to run a command, and scratch folders.

ctest sets the environment (tests/CMakeLists.txt): SPARSIFINER_BIN (the binary),
SPARSIFINER_SOURCE_DIR (the tree), SPARSIFINER_BUILD_DIR (the build). By hand, the defaults are the
tree this file sits in and its build/ folder, so `/usr/bin/python3 tests/py/test_cli.py` works after
`cmake -S . -B build && cmake --build build`. SPARSIFINER_KEEP_TMP=1 keeps the scratch folders.
"""
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

SOURCE_DIR = os.environ.get("SPARSIFINER_SOURCE_DIR") or \
    os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BUILD_DIR = os.environ.get("SPARSIFINER_BUILD_DIR") or os.path.join(SOURCE_DIR, "build")
TIMEOUT_S = 300  # per command; generous, since the machine may be shared (tests never time speed)


def find_binary():
    """The sparsifiner binary: $SPARSIFINER_BIN as given (a wrong path is the caller's error to
    report), else <build>/sparsifiner if it was built, else None (the caller skips)."""
    path = os.environ.get("SPARSIFINER_BIN")
    if path:
        return path
    candidate = os.path.join(BUILD_DIR, "sparsifiner")
    return candidate if os.path.exists(candidate) else None


BIN = find_binary()


def have_binary():
    """True when the binary exists; the condition for unittest.skipUnless."""
    return BIN is not None and os.path.exists(BIN)


def find_tool(name, env_name):
    """A test-only program of tests/tools (built into <build>/tests/): $env_name, else the first
    executable called `name` under the build folder. Exits the test script when there is none."""
    if os.environ.get(env_name):
        return os.environ[env_name]
    candidates = [os.path.join(BUILD_DIR, "tests", name), os.path.join(BUILD_DIR, name)] + \
        sorted(glob.glob(os.path.join(BUILD_DIR, "**", name), recursive=True))
    for candidate in candidates:
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    sys.exit(f"{name} not found under {BUILD_DIR}: build it or set {env_name}")


def run(command, expect_rc=None, timeout=TIMEOUT_S, env=None, **kwargs):
    """Run `command` (a list) with text stdout/stderr captured and a timeout; -> CompletedProcess.
    expect_rc: when not None, an exit code other than it raises AssertionError with the command
    and its stderr. env: variables set on top of os.environ (a value of None removes one).
    Other keyword arguments (cwd, input, ...) go to subprocess.run."""
    command = [str(part) for part in command]
    if env is not None:
        merged = dict(os.environ)
        for key, value in env.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        env = merged
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, **kwargs)
    if expect_rc is not None and result.returncode != expect_rc:
        raise AssertionError("%s -> exit %d (expected %d)\nstderr: %s" %
                             (" ".join(command), result.returncode, expect_rc, result.stderr))
    return result


def sparsifiner(args, expect_rc=0, **kwargs):
    """Run the binary with `args` (a list); by default it must succeed. See run()."""
    return run([BIN] + list(args), expect_rc=expect_rc, **kwargs)


def python(args, expect_rc=0, **kwargs):
    """Run a Python script of the tree with this interpreter (which has torch and numpy)."""
    return run([sys.executable] + list(args), expect_rc=expect_rc, **kwargs)


def cpu_has_native_bf16():
    """Whether the binary will run --dtype bf16 here: the CPU has avx512_bf16 or AMX, and
    SPARSIFINER_NO_BF16 (the binary's own switch, to test the refusal) is not set."""
    if os.environ.get("SPARSIFINER_NO_BF16"):
        return False
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            flags = next((line for line in cpuinfo if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


class TempDirTestCase(unittest.TestCase):
    """A test class whose tests share one scratch folder, cls.tmp (a TemporaryDirectory), made
    before the first test and removed after the last. Subclasses that prepare more in setUpClass
    call super().setUpClass() first."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()
        super().tearDownClass()


def temp_dir(prefix):
    """A fresh scratch folder; pair it with remove_temp_dir in tearDown / tearDownClass."""
    return tempfile.mkdtemp(prefix=prefix)


def remove_temp_dir(path):
    """Delete a scratch folder unless SPARSIFINER_KEEP_TMP is set (then say where it is kept)."""
    if os.environ.get("SPARSIFINER_KEEP_TMP"):
        print("kept", path, file=sys.stderr)
    else:
        shutil.rmtree(path, ignore_errors=True)
