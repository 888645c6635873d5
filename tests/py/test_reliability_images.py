"""Hostile and broken image files (issue 18): every one is refused with one line naming the file,
exit 1, nothing on stdout; the well-formed twin of each is accepted. The files are made here."""
import io
import os
import struct
import subprocess
import tempfile
import unittest

import numpy as np
from PIL import Image

BIN = os.environ.get("SPARSIFINER_BIN", "")
BUILD = os.environ.get("SPARSIFINER_BUILD_DIR", "")
PREPROCESS_DUMP = os.path.join(BUILD, "tests", "preprocess_dump") if BUILD else ""


def run(*args):
    return subprocess.run([BIN, *args], capture_output=True, timeout=300)


def pgm(width, height, maxval, data):
    return b"P5\n%d %d\n%d\n" % (width, height, maxval) + data


def gif_bytes(size=16):
    image = Image.fromarray((np.arange(size * size).reshape(size, size) % 200).astype(np.uint8), "L")
    out = io.BytesIO()
    image.save(out, "GIF")
    return out.getvalue()


def pillow_bytes(mode, fmt, size=16, **save):
    rng = np.random.default_rng(5)
    shape = (size, size) if mode == "L" else (size, size, len(mode))
    image = Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode)
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


@unittest.skipUnless(BIN and os.path.exists(BIN), "SPARSIFINER_BIN not set")
class HostileImagesTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, name, data):
        path = os.path.join(self.tmp.name, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def assert_refused(self, name, data, *needles):
        path = self.write(name, data)
        result = run("classify", path)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertEqual(result.stdout, b"")
        lines = result.stderr.decode().strip().splitlines()
        # The note naming the bundled model (no -m given) is information, not part of the error.
        lines = [line for line in lines if not line.startswith("sparsifiner: no -m given")]
        self.assertEqual(len(lines), 1, result.stderr)
        self.assertIn(path, lines[0])
        for needle in needles:
            self.assertIn(needle, lines[0])

    def assert_accepted(self, name, data):
        result = run("classify", self.write(name, data), "--top", "1")
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_16_bit_pnm_is_refused(self):
        # The 45-byte file of the issue and a large one: stb reads past its buffer on both.
        self.assert_refused("tiny16.pgm", pgm(4, 4, 65535, bytes(32)), "16-bit PNM", "maxval 65535")
        self.assert_refused("big16.pgm", pgm(512, 512, 65535, bytes(512 * 512 * 2)), "16-bit PNM")
        self.assert_refused("ppm16.ppm", b"P6 4 4 # comment\n300\n" + bytes(96), "maxval 300")
        self.assert_accepted("ok8.pgm", pgm(4, 4, 255, bytes(range(16))))

    def test_truncated_pnm_is_refused(self):
        self.assert_refused("short.ppm", b"P6\n64 64\n255\n" + bytes(10), "truncated PNM", "10 bytes", "12288")
        self.assert_refused("header_only.pgm", b"P5\n64 64\n255", "truncated PNM")
        self.assert_refused("huge_number.pgm", b"P5\n99999999999999999999 1\n255\n" + bytes(4), "out of range")
        self.assert_accepted("exact.ppm", b"P6\n8 8\n255\n" + bytes(192))

    def test_truncated_gif_is_refused(self):
        whole = gif_bytes()
        self.assert_accepted("whole.gif", whole)
        for cut in (len(whole) - 2, len(whole) // 2, 20):
            self.assert_refused("cut%d.gif" % cut, whole[:cut], "GIF")

    def test_truncated_bmp_and_tga_are_refused(self):
        bmp = pillow_bytes("RGB", "BMP")
        self.assert_accepted("whole.bmp", bmp)
        self.assert_refused("cut.bmp", bmp[:len(bmp) - 40], "truncated BMP")
        tga = pillow_bytes("RGB", "TGA")
        self.assert_accepted("whole.tga", tga)
        self.assert_refused("cut.tga", tga[:len(tga) // 2], "truncated TGA")
        rle = pillow_bytes("RGB", "TGA", compression="tga_rle")
        self.assert_accepted("whole_rle.tga", rle)
        self.assert_refused("cut_rle.tga", rle[:len(rle) // 2], "truncated TGA")

    def test_decoder_messages_stay_one_printable_line(self):
        # stb names an unknown PNG chunk by its raw type bytes (found by the image fuzzer).
        import zlib
        raw = b"\x00" + bytes(3 * 4)
        chunk = lambda kind, data: (struct.pack(">I", len(data)) + kind + data +
                                    struct.pack(">I", zlib.crc32(kind + data)))
        png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 1, 8, 2, 0, 0, 0)) +
               chunk(b"\x0c\x14\n\x0d", b"") + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
        self.assert_refused("chunk.png", png, "PNG chunk not known", "\\x0a")

    def test_png_with_an_empty_idat_first_is_refused(self):
        # stb copied the empty chunk into its unallocated data buffer (memcpy to null; found by the
        # image fuzzer under UBSan). The same image without the empty chunk still decodes.
        import zlib
        raw = b"".join(b"\x00" + bytes(3 * 4) for _ in range(2))
        chunk = lambda kind, data: (struct.pack(">I", len(data)) + kind + data +
                                    struct.pack(">I", zlib.crc32(kind + data)))
        head = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 2, 8, 2, 0, 0, 0))
        tail = chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
        self.assert_accepted("idat.png", head + tail)
        self.assert_refused("empty_idat.png", head + chunk(b"IDAT", b"") + tail, "empty IDAT")

    def test_png_chunk_longer_than_the_file_is_refused(self):
        # stb grows its IDAT buffer to the declared length before reading: a second IDAT claiming
        # 1.7 GB in a file of a few hundred bytes made it allocate 2 GB (image fuzzer, out of memory).
        # A PNG cut inside a chunk is refused the same way; bytes after IEND are not read.
        import zlib
        raw = b"".join(b"\x00" + bytes(3 * 4) for _ in range(2))
        chunk = lambda kind, data: (struct.pack(">I", len(data)) + kind + data +
                                    struct.pack(">I", zlib.crc32(kind + data)))
        head = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 2, 8, 2, 0, 0, 0))
        idat = chunk(b"IDAT", zlib.compress(raw))
        lying = struct.pack(">I", 0x6600017F) + b"IDAT" + bytes(40)
        self.assert_refused("lying_idat.png", head + idat + lying + chunk(b"IEND", b""), "runs past the end")
        whole = head + idat + chunk(b"IEND", b"")
        self.assert_refused("cut_in_chunk.png", whole[:len(head) + 20], "runs past the end")
        self.assert_accepted("trailing.png", whole + b"garbage after IEND")

    def test_truncated_and_corrupt_jpeg_is_refused(self):
        jpeg = pillow_bytes("RGB", "JPEG")
        self.assert_accepted("whole.jpg", jpeg)
        self.assert_refused("cut.jpg", jpeg[:len(jpeg) // 2], "JPEG")
        # A Huffman table (DHT) claiming more codes than it holds: libjpeg refuses it; stb's header
        # parser, which used to see every JPEG first, indexed out of bounds on such tables.
        dht = jpeg.index(b"\xff\xc4")
        crafted = bytearray(jpeg)
        crafted[dht + 5:dht + 21] = bytes([255] * 16)
        self.assert_refused("bad_dht.jpg", bytes(crafted), "JPEG")

    @unittest.skipUnless(PREPROCESS_DUMP and os.path.exists(PREPROCESS_DUMP), "preprocess_dump not built")
    def test_cmyk_jpeg_decodes_as_pillow_does(self):
        # CMYK JPEGs go through libjpeg too (stb's JPEG code sees no file at all): the pixels match
        # Pillow's convert("RGB"), Adobe-inverted or not.
        for name, image in (("plain", Image.new("CMYK", (8, 8), (10, 200, 30, 40))),
                            ("random", Image.fromarray(np.random.default_rng(2).integers(0, 256, (16, 16, 4),
                                                                                          dtype=np.uint8), "CMYK"))):
            path = self.write(name + "_cmyk.jpg", b"")
            image.save(path, "JPEG", quality=95)
            expected = np.asarray(Image.open(path).convert("RGB"))
            out = os.path.join(self.tmp.name, name + ".bin")
            result = subprocess.run([PREPROCESS_DUMP, "--decode", path, out], capture_output=True, text=True)
            self.assertEqual(result.returncode, 0, result.stderr)
            got = np.fromfile(out, dtype=np.uint8)[8:].reshape(expected.shape)
            self.assertEqual(int(np.abs(got.astype(int) - expected).max()), 0, name)


if __name__ == "__main__":
    unittest.main()
