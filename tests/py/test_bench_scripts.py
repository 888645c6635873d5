"""Runs the benchmark scripts' own tests (bench/tests) under ctest: the median/p90 definitions, the
ONNX export check, the peers' error paths and compare.py's interleaving (ONNX Runtime parts skip
when bench/node_modules is absent)."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SOURCE_DIR  # noqa: E402

# Not harness.run: the output streams through, as bench/tests stays runnable on its own.
result = subprocess.run([sys.executable, "-m", "unittest", "discover", "-s", os.path.join(SOURCE_DIR, "bench", "tests")])
sys.exit(result.returncode)
