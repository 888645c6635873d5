"""Writes the first 24 images of the Fashion-MNIST test split (t10k, from Debian's
dataset-fashion-mnist) as 28x28 grey PNGs named `<index>_<true class>.png`, the samples that the
README's main command classifies with the bundled model.

Usage: /usr/bin/python3 datasets/make_fashion_samples.py [--data DIR] [--count 24] [-o datasets/samples]
"""
import argparse
import gzip
import os
import struct

from PIL import Image

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def read_idx(path):
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        data = f.read()
    magic, count = struct.unpack(">II", data[:8])
    if magic == 0x803:
        rows, cols = struct.unpack(">II", data[8:16])
        return [data[16 + i * rows * cols:16 + (i + 1) * rows * cols] for i in range(count)], (cols, rows)
    return list(data[8:8 + count]), None


def slug(name):
    """'T-shirt/top' -> 't-shirt-top', 'Ankle boot' -> 'ankle-boot': safe in a file name."""
    return name.lower().replace("/", "-").replace(" ", "-")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--count", type=int, default=24)
    p.add_argument("-o", "--output", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "samples"))
    args = p.parse_args()
    images, size = read_idx(os.path.join(args.data, "t10k-images-idx3-ubyte.gz"))
    labels, _ = read_idx(os.path.join(args.data, "t10k-labels-idx1-ubyte.gz"))
    os.makedirs(args.output, exist_ok=True)
    for i in range(args.count):
        name = "%04d_%s.png" % (i, slug(CLASSES[labels[i]]))
        Image.frombytes("L", size, images[i]).save(os.path.join(args.output, name), optimize=True)
    print("wrote %d samples to %s" % (args.count, args.output))


if __name__ == "__main__":
    main()
