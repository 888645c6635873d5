"""Bundle the trained Fashion-MNIST models: convert, measure with the C++ tool, record.

For each of <run>/dense.pth and <run>/sparsifiner.pth (written by weights/train_fashion.py):
  1. convert it with weights/convert.py (F32, crop_pct 1.0: the models saw uncropped 28x28 images);
  2. measure it with `sparsifiner sweep` on the whole Fashion-MNIST test split (10k images, the IDX
     files of Debian's dataset-fashion-mnist, as --jobs concurrent shards merged by `sparsifiner
     merge`): the dense model dense; the Sparsifiner model dense and with learned, oracle and window
     masks at the keep rates given; top-1, top-5, agreement with dense, kept mass, and the
     MACs per image (total and MHSA, the tool's own count, SPEC 5);
  3. convert it again with the measurement stored as the `evaluation` metadata (weights/METADATA.md),
     so that `sparsifiner info` shows what the bundled file scores and the tests can hold the tool
     to it.
The sweep documents are kept in the run directory (fashion_<stem>.sweep.json) and a Markdown table for the
README is printed on stdout.

Usage: python3 weights/bundle_fashion.py --run runs/fashion --bin build/sparsifiner \\
           --out weights/models [--keep-rates 0.5,0.25,0.1] [--limit N]
No torch needed: the converter reads checkpoints without it.
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CONVERT = os.path.join(HERE, "convert.py")
DATA_NAME = "Fashion-MNIST test split (10000 images)"


def run(command, what):
    print("bundle_fashion: " + " ".join(command), file=sys.stderr)
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"bundle_fashion: {what} failed (exit {done.returncode}): {done.stderr.strip()}")
    return done.stdout


def convert(checkpoint, output, arch, metadata=None):
    command = [sys.executable, CONVERT, checkpoint, "-o", output, "--dtype", "f32", "--crop-pct", "1.0",
               "--arch", arch]
    for key, value in (metadata or {}).items():
        command += ["--metadata", f"{key}={value}"]
    run(command, "convert " + checkpoint)


def sweep(binary, model, masks, keep_rates, limit, jobs, json_path):
    """One sweep over the test split, as `jobs` concurrent shards (`sweep --shard i/n`) that
    `sparsifiner merge` combines into exactly the unsharded document."""
    command = [binary, "sweep", "-m", model, "--data", "fashion-mnist", "--keep-rates", keep_rates,
               "--mask", masks, "--json", "--quiet", "--threads", "1"]
    if limit:
        command += ["--limit", str(limit)]
    parts, running = [], []
    for i in range(1, jobs + 1):
        part = f"{json_path}.part{i}"
        parts.append(part)
        print("bundle_fashion: " + " ".join(command + ["--shard", f"{i}/{jobs}"]), file=sys.stderr)
        with open(part, "w") as out:
            running.append(subprocess.Popen(command + ["--shard", f"{i}/{jobs}"], stdout=out,
                                            stderr=subprocess.PIPE, text=True))
    for process in running:
        _, stderr = process.communicate()
        if process.returncode != 0:
            sys.exit(f"bundle_fashion: sweep {model} failed (exit {process.returncode}): {stderr.strip()}")
    merged = run([binary, "merge"] + parts, "merge")
    for part in parts:
        os.remove(part)
    with open(json_path, "w") as f:
        f.write(merged)
    return json.loads(merged)


def evaluation_of(document):
    """The `evaluation` metadata: per setting label, what the sweep measured."""
    rows = [document["dense"]] + [row for row in document["settings"] if row["keep_rate"] < 1.0]
    pick = lambda field: {row["setting"]: row[field] for row in rows}  # noqa: E731
    return {
        "data": DATA_NAME if document["data"]["images_selected"] == 10000
        else f"Fashion-MNIST test split, first {document['data']['images_selected']} images",
        "measured_with": "sparsifiner sweep (weights/bundle_fashion.py)",
        "tool_version": document.get("tool", {}).get("version", ""),
        "date": time.strftime("%Y-%m-%d"),
        "cpu": document.get("machine", {}).get("cpu", ""),
        "top1": pick("top1_accuracy"), "top5": pick("top5_accuracy"),
        "top1_agreement_with_dense": pick("top1_agreement"), "kept_mass": pick("kept_mass_mean"),
        "macs_per_image": pick("macs_per_image"), "mhsa_macs_per_image": pick("mhsa_macs_per_image"),
        "latency_ms_median_1_thread": pick("latency_ms_median"),
    }


def markdown_table(name, evaluation):
    dense_mhsa = evaluation["mhsa_macs_per_image"]["dense"]
    lines = [f"`{name}` on the {evaluation['data']}:", "",
             "| setting | top-1 | top-5 | agrees with dense | kept mass | MHSA MACs / image | MHSA vs dense |"
             " total MACs / image |",
             "|---|---|---|---|---|---|---|---|"]
    for setting, top1 in evaluation["top1"].items():
        mhsa = evaluation["mhsa_macs_per_image"][setting]
        lines.append(f"| {setting} | {100 * top1:.2f}% | {100 * evaluation['top5'][setting]:.2f}% | "
                     f"{100 * evaluation['top1_agreement_with_dense'][setting]:.2f}% | "
                     f"{evaluation['kept_mass'][setting]:.3f} | {mhsa / 1e6:.3f} M | "
                     f"{mhsa / dense_mhsa:.2f}x | {evaluation['macs_per_image'][setting] / 1e6:.2f} M |")
    return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", required=True, help="train_fashion.py's run directory")
    p.add_argument("--bin", required=True, help="the sparsifiner binary")
    p.add_argument("--out", required=True, help="where the .safetensors files go")
    p.add_argument("--keep-rates", default="0.5,0.25,0.1")
    p.add_argument("--limit", type=int, default=0, help="only the first N test images (a quick try)")
    p.add_argument("--jobs", type=int, default=2, help="concurrent sweep shards (one thread each)")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    # The dense model's own row is what it is measured for (its keep-1.0 setting runs the dense path
    # again); the mask sources are compared on the Sparsifiner model, whose backbone they share.
    for stem, arch, masks, rates in (("dense", "deit_fashion", "window", "1.0"),
                                     ("sparsifiner", "sparsifiner_deit_fashion", "learned,oracle,window",
                                      args.keep_rates)):
        checkpoint = os.path.join(args.run, stem + ".pth")
        output = os.path.join(args.out, f"fashion_{stem}.safetensors")
        convert(checkpoint, output, arch)
        document = sweep(args.bin, output, masks, rates, args.limit, args.jobs,
                         os.path.join(args.run, f"fashion_{stem}.sweep.json"))
        evaluation = evaluation_of(document)
        convert(checkpoint, output, arch, {"evaluation": json.dumps(evaluation, separators=(",", ":"))})
        print(markdown_table(os.path.basename(output), evaluation))
    return 0


if __name__ == "__main__":
    sys.exit(main())
