"""Small data files that used to cost gigabytes (issue 18): a list file with a huge class index,
gzip'd IDX bombs, an IDX file of millions of tiny images read with --limit. Each is refused (or
read within its limit) quickly, with one line naming the file. The files are made here."""
import gzip
import os
import resource
import struct
import subprocess
import tempfile
import unittest

BIN = os.environ.get("SPARSIFINER_BIN", "")


def run(*args):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=300)


def idx_images(count, rows, cols):
    return struct.pack(">IIII", 0x803, count, rows, cols) + bytes(count * rows * cols)


def idx_labels(count):
    return struct.pack(">II", 0x801, count) + bytes(count)


@unittest.skipUnless(BIN and os.path.exists(BIN), "SPARSIFINER_BIN not set")
class DataAmplificationTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def assert_one_line(self, result, *needles):
        self.assertNotEqual(result.returncode, 0, result.stderr)
        self.assertLess(result.returncode, 126)
        self.assertEqual(result.stdout, "")
        lines = result.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, result.stderr)
        for needle in needles:
            self.assertIn(needle, lines[0])

    def idx_folder(self, name, images_gz, labels):
        folder = os.path.join(self.dir, name)
        os.mkdir(folder)
        with open(os.path.join(folder, "t10k-images-idx3-ubyte.gz"), "wb") as f:
            f.write(images_gz)
        with open(os.path.join(folder, "t10k-labels-idx1-ubyte.gz"), "wb") as f:
            f.write(gzip.compress(labels))
        return folder

    def test_list_file_with_a_huge_class_index(self):
        listing = os.path.join(self.dir, "list.txt")
        with open(listing, "w") as f:
            f.write("a.png 100000000\n")
        self.assert_one_line(run("sweep", "--data", listing), listing + ":1", "class index 100000000")
        with open(listing, "w") as f:
            f.write("a.png 2147483647\n")
        self.assert_one_line(run("sweep", "--data", listing), listing + ":1")

    def test_gzip_bombs(self):
        real = gzip.compress(idx_images(10, 28, 28))
        # ISIZE claiming 4 GB: refused from the trailer, before inflating anything.
        huge = real[:-4] + struct.pack("<I", 0xFFFFFFF0)
        folder = self.idx_folder("huge", huge, idx_labels(10))
        self.assert_one_line(run("sweep", "--data", folder), "t10k-images", "MiB limit")
        # ISIZE lying low: the stream stops at the declared size instead of growing.
        liar = real[:-4] + struct.pack("<I", 100)
        folder = self.idx_folder("liar", liar, idx_labels(10))
        self.assert_one_line(run("sweep", "--data", folder), "t10k-images", "gzip")

    def test_many_tiny_images_with_limit(self):
        count = 1 << 22  # 4M 1x1 images: 4 MB of pixels, a few kB gzip'd
        folder = self.idx_folder("tiny", gzip.compress(idx_images(count, 1, 1)), idx_labels(count))
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        result = run("sweep", "--data", folder, "--limit", "20", "--json")
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        self.assertIn('"images_in_source": %d' % count, result.stdout, result.stderr)
        self.assertIn('"images_selected": 20', result.stdout)
        # One item per image in the source cost ~100 bytes each (400 MB here, 2.2 GB in the issue).
        if peak_kib > before:
            self.assertLess(peak_kib, 300 * 1024, "peak resident memory (KiB) of the sweep")


if __name__ == "__main__":
    unittest.main()
