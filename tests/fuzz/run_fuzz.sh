#!/usr/bin/env bash
# Builds the fuzzers with clang-14 (ASan + UBSan + libFuzzer) in their own build directory and runs
# each for a bounded time from a scratch copy of its seed corpus: fuzz_safetensors (the weight
# loader; committed seeds in corpus/) and fuzz_image (every image decoder + preprocessing; seeds
# made by make_image_seeds.py). Exit status: 0 when nothing was found, non-zero on any finding or
# build failure.
#
#   tests/fuzz/run_fuzz.sh [seconds]        default 60, for EACH target
#   FUZZ_BUILD_DIR=/somewhere tests/fuzz/run_fuzz.sh
#   FUZZ_KEEP_CORPUS=dir   also copy the grown corpus there (to pick new seeds by hand)
set -euo pipefail

source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
seconds=${1:-60}
build_dir=${FUZZ_BUILD_DIR:-$(dirname "$source_dir")/build-fuzz}

if ! command -v clang++-14 >/dev/null; then
    echo "run_fuzz.sh: clang++-14 not found (apt-get install clang-14 libfuzzer-14-dev)" >&2
    exit 2
fi

cmake -S "$source_dir" -B "$build_dir" -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DSPARSIFINER_FUZZ=ON -DSPARSIFINER_TESTS=ON >/dev/null
cmake --build "$build_dir" --target fuzz_safetensors fuzz_image -j2

work=$(mktemp -d "${TMPDIR:-/tmp}/sparsifiner-fuzz.XXXXXX")
mkdir -p "$work/corpus" "$work/artifacts" "$work/image_corpus"
cp "$source_dir"/tests/fuzz/corpus/* "$work/corpus/"
/usr/bin/python3 "$source_dir"/tests/fuzz/make_image_seeds.py "$work/image_corpus"

# Tokens the mutator splices in: header keys, dtypes and the tensor names a DeiT loader looks for.
cat > "$work/safetensors.dict" <<'DICT'
"__metadata__"
"dtype"
"shape"
"data_offsets"
"F32"
"F16"
"BF16"
"F64"
"cls_token"
"dist_token"
"pos_embed"
"patch_embed.proj.weight"
"blocks.0."
"blocks.1."
"attn.mask_predictor."
"proj_n"
"head.weight"
"embed_dim"
"num_heads"
"depth"
"img_size"
"patch_size"
"class_names"
"18446744073709551615"
"9223372036854775807"
"4294967296"
"-1"
DICT

# A seed with a large header (5000 one-element tensors, ~0.3 MB of JSON), and room to grow past
# the 20000-entry cap: headers that cost the parser time (it was quadratic) must be reachable.
/usr/bin/python3 - "$work/corpus/many_entries.safetensors" <<'SEED'
import json, struct, sys
count = 5000
header = {"__metadata__": {"format": "fuzz"}}
for i in range(count):
    header["t%d" % i] = {"dtype": "F32", "shape": [1], "data_offsets": [4 * i, 4 * i + 4]}
blob = json.dumps(header).encode()
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<Q", len(blob)) + blob + bytes(4 * count))
SEED

status=0
"$build_dir/tests/fuzz_safetensors" "$work/corpus" -dict="$work/safetensors.dict" \
    -max_total_time="$seconds" -max_len=2097152 -rss_limit_mb=2048 -timeout=10 \
    -artifact_prefix="$work/artifacts/" -print_final_stats=1 || status=$?
# Image headers may promise big pictures: the target caps them at 2^20 pixels before decoding.
image_status=0
"$build_dir/tests/fuzz_image" "$work/image_corpus" \
    -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
    -artifact_prefix="$work/artifacts/image-" -print_final_stats=1 || image_status=$?
[ "$status" -ne 0 ] || status=$image_status

if [ -n "${FUZZ_KEEP_CORPUS:-}" ]; then
    mkdir -p "$FUZZ_KEEP_CORPUS" && cp "$work/corpus/"* "$FUZZ_KEEP_CORPUS/"
fi
if [ "$status" -ne 0 ] || [ -n "$(ls -A "$work/artifacts")" ]; then
    echo "run_fuzz.sh: FINDING (exit $status); reproducers kept in $work/artifacts" >&2
    ls -l "$work/artifacts" >&2
    exit 1
fi
rm -rf "$work"
echo "run_fuzz.sh: no finding in ${seconds}s"
