#!/usr/bin/env bash
# The main job on a fresh machine: install what is missing, build, and classify the sample images
# with the bundled default model (a seeded random DeiT-Ti: UNTRAINED, its predictions are noise).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh build
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
./build/sparsifiner info -m build/models/deit_tiny_random_seed0.safetensors
./build/sparsifiner classify -m build/models/deit_tiny_random_seed0.safetensors datasets/samples/photos/ --top 3
