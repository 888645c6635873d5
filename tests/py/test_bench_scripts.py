"""Runs the benchmark scripts' own tests (bench/tests) under ctest: the median/p90 definitions, the
ONNX export check, the peers' error paths and compare.py's interleaving (ONNX Runtime parts skip
when bench/node_modules is absent)."""
import os
import subprocess
import sys

source = os.environ.get("SPARSIFINER_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
result = subprocess.run([sys.executable, "-m", "unittest", "discover", "-s", os.path.join(source, "bench", "tests")])
sys.exit(result.returncode)
