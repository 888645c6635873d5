#!/usr/bin/python3
"""Writes datasets/imagenet1k_classes.txt: the 1000 ImageNet-1k class names, one a line, in the
standard index order, taken from Debian's python3-torchvision (torchvision.models._meta).

Run once by hand; the output is committed and compiled into the library, so the build never
needs python. Usage: /usr/bin/python3 datasets/make_imagenet_classes.py [-o PATH]
"""
import argparse
import os
import sys


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default=os.path.join(here, "imagenet1k_classes.txt"))
    args = parser.parse_args()

    from torchvision.models._meta import _IMAGENET_CATEGORIES as names

    # The C++ side relies on these: exactly 1000 names, each one line of plain text.
    if len(names) != 1000:
        sys.exit(f"torchvision lists {len(names)} ImageNet classes, expected 1000")
    for i, name in enumerate(names):
        if not name or name != name.strip() or "\n" in name or "\r" in name:
            sys.exit(f"class {i} has an unusable name: {name!r}")

    with open(args.output, "w", encoding="utf-8", newline="\n") as f:
        for name in names:
            f.write(name + "\n")
    print(f"wrote {len(names)} names to {args.output}")


if __name__ == "__main__":
    main()
