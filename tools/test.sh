#!/usr/bin/env bash
# Builds from scratch and runs every test: unit tests, PyTorch parity, converter, preprocessing,
# CLI, and bounded libFuzzer runs (ASan + UBSan) of the weight-file loader and the image decoders. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh build test
rm -rf build-test
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Release
cmake --build build-test -j"$(nproc)"
(cd build-test && ctest --output-on-failure --timeout 1500)
FUZZ_BUILD_DIR="$PWD/build-fuzz" tests/fuzz/run_fuzz.sh 30
