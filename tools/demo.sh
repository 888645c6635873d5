#!/usr/bin/env bash
# The main job on a fresh machine: install what is missing, build, and classify the 24 sample
# images (Fashion-MNIST test images, named by index and true class) with the bundled default model,
# the Sparsifiner DeiT trained on Fashion-MNIST (weights/models/fashion_sparsifiner.safetensors):
# each image's prediction is shown beside its true class.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh build
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
./build/sparsifiner info
./build/sparsifiner classify datasets/samples/ --top 1 --truth-from-name
