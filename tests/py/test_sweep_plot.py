"""sweep --plot: the trade-off figure is a well-formed SVG with one line per mask source, one point
per setting placed by its MHSA MACs and accuracy, the dense reference point; merge --plot of shards
draws exactly the unsharded figure."""
import json
import os
import subprocess
import sys
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, SOURCE_DIR as SOURCE, sparsifiner, TempDirTestCase  # noqa: E402
FIXTURE = os.path.join(SOURCE, "tests", "data", "sweep_folder")
SVG = "{http://www.w3.org/2000/svg}"


def run(*args):
    return sparsifiner(args, timeout=600).stdout


@unittest.skipUnless(BIN and os.path.exists(BIN), "SPARSIFINER_BIN not set")
class SweepPlotTest(TempDirTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.model = os.path.join(cls.tmp.name, "model.safetensors")
        subprocess.run([sys.executable, os.path.join(SOURCE, "weights", "make_random_model.py"), "--arch",
                        "deit_tiny", "--sparsifiner", "--num-classes", "10", "--seed", "0", "-o", cls.model],
                       check=True)
        cls.common = ["-m", cls.model, "--data", FIXTURE, "--keep-rates", "0.5,0.25,0.1", "--mask",
                      "learned,window", "--json", "--quiet"]
        cls.plot = os.path.join(cls.tmp.name, "sweep.svg")
        cls.doc = json.loads(run("sweep", *cls.common, "--plot", cls.plot))

    def test_lines_points_and_their_places(self):
        root = ET.parse(self.plot).getroot()
        lines = {p.get("data-mask"): p for p in root.iter(SVG + "polyline")}
        self.assertEqual(sorted(lines), ["learned", "window"])
        circles = [c for c in root.iter(SVG + "circle")]
        self.assertEqual(len(circles), len(self.doc["settings"]))
        self.assertEqual(len([r for r in root.iter(SVG + "rect") if r.get("class") == "dense"]), 1)
        for mask, line in lines.items():
            rows = sorted((r for r in self.doc["settings"] if r["mask"] == mask),
                          key=lambda r: r["mhsa_macs_per_image"])
            xy = [tuple(map(float, p.split(","))) for p in line.get("points").split()]
            self.assertEqual(len(xy), len(rows))
            # Points left to right in MACs order; a higher accuracy is drawn higher (smaller y).
            self.assertEqual([x for x, _ in xy], sorted(x for x, _ in xy))
            for (xa, ya), (xb, yb), ra, rb in zip(xy, xy[1:], rows, rows[1:]):
                if ra["top1_accuracy"] != rb["top1_accuracy"]:
                    self.assertEqual(ya > yb, ra["top1_accuracy"] < rb["top1_accuracy"])
        labels = {t.text for t in root.iter(SVG + "text")}
        self.assertTrue({"0.5", "0.25", "0.1", "dense"} <= labels)

    def test_title_counts_images_and_every_point_has_its_wilson_interval(self):
        import math
        root = ET.parse(self.plot).getroot()
        title = [t.text for t in root.iter(SVG + "text") if t.get("class") == "title"]
        self.assertEqual(len(title), 1)
        self.assertIn("%d images" % self.doc["dense"]["images"], title[0])
        bars = [b for b in root.iter(SVG + "line") if b.get("class") == "interval"]
        circles = [c for c in root.iter(SVG + "circle")]
        self.assertEqual(len(bars), len(circles) + 1)  # every setting and the dense point
        for bar in bars:  # vertical, and not a zero-length bar on this small fixture
            self.assertEqual(bar.get("x1"), bar.get("x2"))
            self.assertGreater(float(bar.get("y1")) - float(bar.get("y2")), 1.0)
        # The interval of each circle brackets it (SVG y grows downwards).
        for c in circles:
            bar = [b for b in bars if b.get("x1") == c.get("cx") and
                   float(b.get("y2")) <= float(c.get("cy")) <= float(b.get("y1"))]
            self.assertTrue(bar, c.attrib)
        # Wilson by hand for the dense point: p = accuracy, n = labelled images.
        row = self.doc["dense"]
        p, n, z = row["top1_accuracy"], row["labelled"], 1.959964
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        self.assertGreater(half, 0.05)  # a handful of images: a wide interval
        self.assertLess(centre - half, p)
        self.assertGreater(centre + half, p)

    def test_labels_at_one_spot_are_drawn_once(self):
        root = ET.parse(self.plot).getroot()
        spots = [(round(float(t.get("x"))), round(float(t.get("y")))) for t in root.iter(SVG + "text")
                 if t.get("class") == "label"]
        self.assertEqual(len(spots), len(set(spots)))

    def test_merged_shards_draw_the_same_figure(self):
        parts = []
        for i in (1, 2):
            path = os.path.join(self.tmp.name, f"part{i}.json")
            with open(path, "w") as f:
                f.write(run("sweep", *self.common, "--shard", f"{i}/2"))
            parts.append(path)
        merged_plot = os.path.join(self.tmp.name, "merged.svg")
        run("merge", *parts, "--plot", merged_plot)
        with open(self.plot) as a, open(merged_plot) as b:
            self.assertEqual(a.read(), b.read())


if __name__ == "__main__":
    unittest.main()
