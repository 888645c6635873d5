#!/usr/bin/python3
"""Writes the seed corpus of the image fuzzer (tests/fuzz/fuzz_image.cpp) into a folder: one small
file per format and variant the decoders handle, made with Pillow (so no binary blobs in git).

    make_image_seeds.py OUT_DIR
"""
import io
import os
import sys
import zlib

import numpy as np
from PIL import Image


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(18)
    rgb = Image.fromarray(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8), "RGB")
    grey = rgb.convert("L")
    seeds = {
        "rgb.png": (rgb, "PNG", {}),
        "grey.png": (grey, "PNG", {}),
        "rgba.png": (rgb.convert("RGBA"), "PNG", {}),
        "palette.png": (rgb.convert("P"), "PNG", {}),
        "interlaced.png": (rgb, "PNG", {"interlace": 1}),
        "rgb.jpg": (rgb, "JPEG", {"quality": 90}),
        "grey.jpg": (grey, "JPEG", {}),
        "progressive.jpg": (rgb, "JPEG", {"progressive": True}),
        "cmyk.jpg": (rgb.convert("CMYK"), "JPEG", {}),
        "rgb.gif": (rgb, "GIF", {}),
        "rgb.bmp": (rgb, "BMP", {}),
        "grey.bmp": (grey, "BMP", {}),
        "rgb.tga": (rgb, "TGA", {}),
        "rle.tga": (rgb, "TGA", {"compression": "tga_rle"}),
        "grey.pgm": (grey, "PPM", {}),
        "rgb.ppm": (rgb, "PPM", {}),
    }
    for name, (image, fmt, options) in seeds.items():
        data = io.BytesIO()
        image.save(data, fmt, **options)
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(data.getvalue())
        if name == "rgb.jpg":
            # A JPEG behind 0xFF fill bytes: not a JPEG signature, yet stb's marker reader skips
            # the fill and found SOI; its Huffman builder then read out of bounds (fuzzer finding).
            # The run starts from this seed, so the finding is checked again every time.
            with open(os.path.join(out_dir, "fill_then_jpeg.bin"), "wb") as f:
                f.write(b"\xff" * 173 + data.getvalue())
        if name == "rgb.png":
            # The same PNG with an empty IDAT chunk before its data: stb copied it into a null
            # buffer (UBSan, fuzzer finding); the preflight refuses it, and every run replays it.
            png = data.getvalue()
            first_idat = png.index(b"IDAT") - 4
            empty = b"\x00\x00\x00\x00IDAT" + zlib.crc32(b"IDAT").to_bytes(4, "big")
            with open(os.path.join(out_dir, "empty_idat.png"), "wb") as f:
                f.write(png[:first_idat] + empty + png[first_idat:])
            # ... and with a second IDAT that declares 1.7 GB: stb allocated 2 GB for it before
            # finding the data missing (out of memory, fuzzer finding); the preflight refuses it.
            iend = png.index(b"IEND") - 4
            lying = (0x6600017F).to_bytes(4, "big") + b"IDAT" + bytes(32)
            with open(os.path.join(out_dir, "lying_idat.png"), "wb") as f:
                f.write(png[:iend] + lying + png[iend:])


if __name__ == "__main__":
    main()
