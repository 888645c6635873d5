#!/usr/bin/env bash
# Runs `sparsifiner sweep` as a Slurm job array, one shard per array task, then a merge job that
# starts when every shard has succeeded and writes the document one unsharded run would print.
#
#   tools/slurm-sweep.sh --shards N --out sweep.json [--bin PATH] [--parts DIR] [--wait]
#                        [--sbatch-arg ARG]... -- SWEEP ARGS...
# e.g.
#   tools/slurm-sweep.sh --shards 8 --out sweep.json --sbatch-arg=--cpus-per-task=4 -- \
#       -m spars_s.safetensors --data imagenet/val --keep-rates 1.0,0.5,0.25 --threads 4
#
# --bin      the sparsifiner binary as the compute nodes see it (default: $SPARSIFINER_BIN, else
#            `sparsifiner` on the PATH)
# --parts    where the shard documents, job scripts and Slurm logs go (default: OUT.parts), on a
#            file system every node shares
# --wait     return only when the merge job has ended (sbatch --wait), with its exit code
# Prints the array and merge job ids. A shard whose exit code is 1 (some images unreadable: they are
# listed in its document) still counts as done; anything else stops the merge (afterok).
set -euo pipefail

shards=""; out=""; bin="${SPARSIFINER_BIN:-sparsifiner}"; parts=""; wait_flag=(); sbatch_args=()
usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --shards) shards="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    --parts) parts="$2"; shift 2 ;;
    --wait) wait_flag=(--wait); shift ;;
    --sbatch-arg) sbatch_args+=("$2"); shift 2 ;;
    --sbatch-arg=*) sbatch_args+=("${1#--sbatch-arg=}"); shift ;;
    --) shift; break ;;
    -h|--help) usage ;;
    *) echo "slurm-sweep.sh: unknown option '$1' (sweep arguments go after --)" >&2; exit 2 ;;
  esac
done
[[ "$shards" =~ ^[1-9][0-9]*$ ]] || { echo "slurm-sweep.sh: --shards needs a positive whole number" >&2; exit 2; }
[ -n "$out" ] || { echo "slurm-sweep.sh: --out FILE is required" >&2; exit 2; }
[ $# -gt 0 ] || { echo "slurm-sweep.sh: give the sweep arguments after --" >&2; exit 2; }
command -v sbatch >/dev/null || { echo "slurm-sweep.sh: sbatch not found (is Slurm installed?)" >&2; exit 2; }

parts="${parts:-$out.parts}"
mkdir -p "$parts"
parts="$(cd "$parts" && pwd)"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
rm -f "$parts"/part_*.json

# The job scripts are written out (arguments quoted with %q) rather than passed with --wrap, so
# that paths with spaces or shell characters survive.
quoted_args="$(printf '%q ' "$@")"
quoted_bin="$(printf '%q' "$bin")"
cat > "$parts/shard.sh" <<SCRIPT
#!/usr/bin/env bash
i="\$SLURM_ARRAY_TASK_ID"
$quoted_bin sweep $quoted_args --shard "\$i/$shards" --json --quiet > "$parts/part_\$i.json.tmp"
rc=\$?
[ \$rc -eq 1 ] && rc=0
[ \$rc -eq 0 ] && mv "$parts/part_\$i.json.tmp" "$parts/part_\$i.json"
exit \$rc
SCRIPT
cat > "$parts/merge.sh" <<SCRIPT
#!/usr/bin/env bash
$quoted_bin merge "$parts"/part_*.json > "$out.tmp"
rc=\$?
[ \$rc -eq 1 ] && rc=0
[ \$rc -eq 0 ] && mv "$out.tmp" "$out"
exit \$rc
SCRIPT
chmod +x "$parts/shard.sh" "$parts/merge.sh"

array_id="$(sbatch --parsable --job-name=sparsifiner-sweep --array="1-$shards" \
  --output="$parts/slurm-%A_%a.log" "${sbatch_args[@]}" "$parts/shard.sh")"
array_id="${array_id%%;*}"
echo "array job $array_id: $shards shards -> $parts/part_<i>.json"
merge_id="$(sbatch --parsable --job-name=sparsifiner-merge --dependency="afterok:$array_id" \
  --kill-on-invalid-dep=yes --output="$parts/slurm-merge-%j.log" "${wait_flag[@]}" "$parts/merge.sh")"
echo "merge job ${merge_id%%;*} -> $out"
