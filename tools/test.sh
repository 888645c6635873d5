#!/usr/bin/env bash
# Builds from scratch and runs every test: unit tests, PyTorch parity, converter, preprocessing,
# CLI, and a bounded libFuzzer run of the weight-file loader. Exits non-zero on any failure.
# Ends with every test's wall time, slowest first, so that a slow test is seen.
# SPARSIFINER_FULL_TESTS=1 adds the long checks (e.g. the bundled models on all 10k test images
# and the PyTorch recomputation of their stored reference predictions).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
tools/install-deps.sh build test
rm -rf build-test
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Release
cmake --build build-test -j"$(nproc)"
built=$(date +%s)
status=0
(cd build-test && ctest --output-on-failure --timeout 1500) 2>&1 | tee build-test/ctest.log || status=$?
tested=$(date +%s)
if [ "$status" -eq 0 ]; then
  FUZZ_BUILD_DIR="$PWD/build-fuzz" tests/fuzz/run_fuzz.sh 60 || status=$?
fi
finished=$(date +%s)
echo
echo "Test times (seconds, slowest first):"
grep -E '^ *[0-9]+/[0-9]+ Test +#[0-9]+: ' build-test/ctest.log |
  sed -E 's/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: ([^ ]+) .* ([0-9.]+) sec$/\2 \1/' | sort -rn |
  awk '{ printf "  %8.1f  %s\n", $1, $2 }'
echo "  build $((built - started)) s, ctest $((tested - built)) s, fuzz $((finished - tested)) s, total $((finished - started)) s"
exit "$status"
