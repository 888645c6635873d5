#!/usr/bin/env bash
# Installs the Debian packages sparsifiner needs. Usage: tools/install-deps.sh [build|test|bench]...
#   build  compiler, CMake and the libraries (default)
#   test   + PyTorch, torchvision, OpenBLAS, clang/libFuzzer: the parity, preprocessing and fuzz tests
#   bench  + node and npm: the ONNX Runtime peer of bench/compare.py
# Runs apt-get only for what is missing; needs root (or sudo) when something is.
set -euo pipefail

build_packages=(cmake g++ make git pkg-config libdnnl-dev ocl-icd-opencl-dev libcli11-dev libstb-dev libjpeg-dev
                nlohmann-json3-dev doctest-dev liblapacke-dev python3 python3-numpy)
test_packages=(python3-torch python3-torchvision python3-pil libopenblas0-pthread clang-14 libfuzzer-14-dev parallel slurm-wlm munge dataset-fashion-mnist
               libclang-rt-14-dev)
bench_packages=(python3-torch libopenblas0-pthread)

wanted=("${build_packages[@]}")
for group in "$@"; do
  case "$group" in
    build) ;;
    test) wanted+=("${test_packages[@]}") ;;
    bench) wanted+=("${bench_packages[@]}")
           # node and npm may come from elsewhere than Debian (e.g. NodeSource): only install when absent.
           command -v node >/dev/null && command -v npm >/dev/null || wanted+=(nodejs npm) ;;
    *) echo "install-deps.sh: unknown group '$group' (build, test, bench)" >&2; exit 2 ;;
  esac
done

missing=()
for package in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps.sh: installing ${missing[*]}" >&2
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
"${sudo_cmd[@]}" apt-get update
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
