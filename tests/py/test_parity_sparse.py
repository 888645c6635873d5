"""Sparse parity: masks, token pruning and outputs of the sparsifiner CLI against the float64
reference of tests/reference/sparsifiner_ref.py (SPEC sections 2, 3, 4).

Each case writes a seeded random Sparsifiner model (deit_ref's peaky DeiT plus a predictor whose
softmax keeps several comparable coefficients and whose basis keeps ~32% of its entries), runs
`sparsifiner classify ... --crop-pct 1.0 --batch 2 --json --logits --dump-activations A
--dump-masks M [--mask S] [--keep-rate R] [--prune-at L --token-keep r]` and checks:
- kept tokens (block_i_tokens.npy) and kept keys (block_i_keys.npy) equal the reference's;
- the hidden state after every block and the logits within REL_TOL x max|ref| per tensor.

Why "equal except near-ties": every mask row is a top-k of continuous scores. Over the ~28,000
rows of DeiT-S (2 images x 6 heads x 196 rows x 12 blocks) the smallest relative gap at the cut
is ~1e-7 (measured, seed 2), below float32 rounding, so a correct float32 engine may pick the
other key of a near-tie in a handful of rows. The test therefore requires identical keys in every
row whose reference gap at the cut (approx score, and for learned masks also the coefficient
top-k) is above the source's near-tie level of the row's largest score, and allows a difference
only in rows below it; their count is printed. For learned masks that level is
LEARNED_NEAR_TIE_REL = 1e-6 raised to INPUT_ERROR_FACTOR x the block input's measured float32
error (the engine's hidden state against the reference's, relative to its max |value|). Why not
1e-6 alone (issue 13's target): the predictor's own float32 error is held to that level by
tests/unit/test_mask_predictor.cpp (same float inputs, a double evaluation, every row above 1e-6
identical), but end to end its inputs q and k carry the float32 error of everything before (1e-6
after block 0, ~4e-6 by block 11 on DeiT-S, as in PyTorch float32: 1.1e-6 to 3.5e-6), and the
predictor amplifies that: the same reference run in PyTorch float32 flips rows of margin 4.2e-6
and 1.4e-6 on DeiT-Ti seed 2 and its logits with its own masks end 2e-4 (DeiT-Ti) and 6e-3
(DeiT-S) x max|logit| from float64 (measured, issue 13 work). Oracle rows (float32 q.k of the
engine's own float32 activations) keep AMBIGUOUS_REL and at most MAX_ORACLE_DIFF_ROWS flips. The
reference then follows the engine's masks (sparsifiner_ref's forced_keys / forced_tokens), so a
legitimate near-tie flip does not derail the output comparison; for learned masks the distance of
the logits from the reference with its own float64 masks is printed as well. The small geometry is chosen (seed search) so that no row is ambiguous:
there the masks must be identical, full stop. Exact ties (window distances, all-zero predictor
scores) have an infinite margin: they must match, which checks the lower-index tie rule.

Environment: SPARSIFINER_BIN, SPARSIFINER_SOURCE_DIR, optional SPARSIFINER_KEEP_TMP=1.
"""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import torch
from PIL import Image

SOURCE_DIR = os.environ.get("SPARSIFINER_SOURCE_DIR",
                            os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")))
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "reference"))
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "py"))
import deit_ref  # noqa: E402
import sparsifiner_ref as S  # noqa: E402
from test_parity_dense import find_binary, max_rel_diff, parity_images, smooth_image  # noqa: E402

REL_TOL = 2e-5  # as the dense test; measured ~3e-6 on DeiT-S with masks and pruning
AMBIGUOUS_REL = 1e-5  # oracle rows and token rankings whose cut gap is below this may differ
LEARNED_NEAR_TIE_REL = 1e-6  # learned mask rows: only gaps at or below this may differ (issue 13)
MAX_ORACLE_DIFF_ROWS = 20  # more oracle flips than this means something other than rounding
INPUT_ERROR_FACTOR = 3  # learned near-tie level: at least this x the block input's float32 error
SMALL_SEED_MIN_MARGIN = 5e-5  # the small geometry's seeds: every margin at least this
NUM_CLASSES = 100
CLI_TIMEOUT_S = 300

# DeiT-S geometry at 224 with the default predictor sizes (c = 32, K = 32, top-8 coefficients).
DEIT_S = ("deit_s", 2)
# DeiT-Ti geometry at 224 (embed 192, 3 heads), where issue 13 saw the old predictor flip a row.
DEIT_TI = ("deit_ti", 2)
# A small distilled geometry: N = 38 (cls, dist, 6x6 patches), d = 32, c = 16, K = 6, top-3
# coefficients (top-8 would keep all of K = 6 and test nothing). Its seed is searched.
SMALL_GEOMETRY = dict(embed_dim=64, num_heads=2, depth=4, img_size=96, distilled=True)
SMALL_TOPK = 3
DYADIC_RATES_12 = [0.5, 0.5, 0.25, 0.25, 0.125, 0.125, 0.25, 0.375, 0.5, 0.75, 0.25, 0.25]
DYADIC_RATES_4 = [0.5, 0.25, 0.75, 0.375]  # exact in binary: ceil(rate * N) has no rounding doubt


def ambiguous_rows(entry, level=AMBIGUOUS_REL):
    return entry["row_margins"].numpy() <= level


class SparseParityBase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sparsifiner_sparse_parity_")
        cls.models = {}

    @classmethod
    def tearDownClass(cls):
        if os.environ.get("SPARSIFINER_KEEP_TMP"):
            print("kept", cls.tmp)
        else:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    # -- fixtures ---------------------------------------------------------------------------------

    def model(self, name, seed):
        """-> (path, config, reference model read back from the written file)."""
        key = (name, seed)
        if key not in self.models:
            if name in ("deit_s", "deit_ti"):
                arch = "deit_small" if name == "deit_s" else "deit_tiny"
                config = S.sparsifiner_config(deit_ref.deit_config(arch, num_classes=NUM_CLASSES))
            else:
                config = S.sparsifiner_config(S.custom_config(num_classes=NUM_CLASSES, **SMALL_GEOMETRY),
                                              basis_coef_topk=SMALL_TOPK)
            state = S.random_sparsifiner_state(config, seed)
            path = os.path.join(self.tmp, "%s_seed%d.safetensors" % (name, seed))
            S.write_sparsifiner_model(path, state, config, seed=seed)
            tensors, metadata = deit_ref.load_safetensors(path)
            self.assertEqual(S.config_from_metadata(metadata), config, "metadata round trip")
            self.models[key] = (path, config, S.Sparsifiner(config).load_state(tensors))
        return self.models[key]

    def images(self, size):
        return parity_images(self.tmp, size)

    def pixels(self, image_paths):
        return torch.stack([deit_ref.preprocess_pixels(np.array(Image.open(p).convert("RGB")))
                            for p in image_paths])

    def run_cli(self, model_path, image_paths, flags, tag):
        binary = find_binary()
        if binary is None:
            self.skipTest("SPARSIFINER_BIN not set and no build dir: nothing to compare")
        self.assertTrue(os.path.exists(binary), "SPARSIFINER_BIN=%s does not exist" % binary)
        acts = os.path.join(self.tmp, "act_" + tag)
        masks = os.path.join(self.tmp, "masks_" + tag)
        cmd = [binary, "classify", "-m", model_path] + image_paths + [
            "--crop-pct", "1.0", "--batch", "2", "--threads", "2", "--json", "--logits",
            "--dump-activations", acts, "--dump-masks", masks] + flags
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=CLI_TIMEOUT_S)
        self.assertEqual(proc.returncode, 0, "%s\nexit %d, stderr:\n%s" % (" ".join(cmd), proc.returncode, proc.stderr))
        return json.loads(proc.stdout), acts, masks

    # -- comparison -------------------------------------------------------------------------------

    def check_tensor(self, label, ref, got, failures):
        self.assertEqual(tuple(np.shape(got)), tuple(np.shape(ref)), "%s: shape" % label)
        diff, scale = max_rel_diff(ref, got)
        ok = diff <= REL_TOL * scale
        print("  %-22s max|diff| %.3e  max|ref| %8.3f  rel %.2e  %s"
              % (label, diff, scale, diff / scale, "OK" if ok else "FAIL"))
        if not ok:
            failures.append(label)

    def check_case(self, model_key, source, keep_rate=None, prune_at=(), token_keep=0.7,
                   strict=False, pass_mask_flag=True, budget_rule=None, expect_kept=None):
        """Runs the CLI and the reference (following the engine's masks where they legitimately
        differ) and compares everything. strict: no row may differ at all. budget_rule: passed
        as --budget-rule (None: the default, official). expect_kept: per block the keys each
        engine row must keep (None for a dense block), checked on block_i_keys.npy. -> engine
        logits."""
        path, config, model = self.models[model_key]
        image_paths = self.images(config["img_size"])
        flags = ["--mask", source] if pass_mask_flag else []
        if budget_rule is not None:
            flags += ["--budget-rule", budget_rule]
        rate_text = ""
        if keep_rate is not None:
            rates = keep_rate if isinstance(keep_rate, (list, tuple)) else [keep_rate]
            rate_text = ",".join(repr(float(r)) for r in rates)
            flags += ["--keep-rate", rate_text]
        if prune_at:
            flags += ["--prune-at", ",".join(str(b) for b in prune_at), "--token-keep", repr(token_keep)]
        tag = "%s_%d_%s_%s_%s_%s" % (model_key[0], model_key[1], source, rate_text.replace(",", "-") or "default",
                                     "-".join(map(str, prune_at)) or "noprune", budget_rule or "official")
        print("\n%s: %s" % (tag, " ".join(flags)))
        doc, acts, masks = self.run_cli(path, image_paths, flags, tag)

        depth = config["depth"]
        engine_tokens = {}
        engine_keys = {}
        for i in range(depth):
            tokens_path = os.path.join(masks, "block_%d_tokens.npy" % i)
            self.assertTrue(os.path.exists(tokens_path), "%s missing" % tokens_path)
            engine_tokens[i] = np.load(tokens_path)
            self.assertEqual(engine_tokens[i].dtype, np.int32, "block_%d_tokens.npy dtype" % i)
            keys_path = os.path.join(masks, "block_%d_keys.npy" % i)
            if source != "dense" and os.path.exists(keys_path):
                engine_keys[i] = np.load(keys_path)
                self.assertEqual(engine_keys[i].dtype, np.int32, "block_%d_keys.npy dtype" % i)

        if expect_kept is not None:
            got_kept = [int(engine_keys[i].shape[-1]) if i in engine_keys else None for i in range(depth)]
            print("  keys per row by block: %s" % got_kept)
            self.assertEqual(got_kept, list(expect_kept), "keys kept per row, block by block")
        model.set_masks(source, keep_rate=keep_rate, prune_at=prune_at, token_keep=token_keep,
                        forced_keys=engine_keys, forced_tokens={i: t for i, t in engine_tokens.items() if i > 0},
                        budget_rule=budget_rule or "official")
        with torch.no_grad():
            features, hidden = model.forward_features(self.pixels(image_paths))
            ref_logits = model.head(features).numpy()

        failures = []
        differing_rows = tie_rows_base = 0
        near_tie_base = LEARNED_NEAR_TIE_REL if source == "learned" else AMBIGUOUS_REL
        near_tie = near_tie_base
        input_error = 0.0  # relative error of the block's input (the previous block's output)
        for i, entry in enumerate(model.trace):
            ref_tokens = entry["tokens"].numpy()
            self.assertEqual(engine_tokens[i].shape, ref_tokens.shape, "block_%d_tokens shape" % i)
            self.assertTrue(np.array_equal(engine_tokens[i], ref_tokens), "block %d: alive tokens differ" % i)
            if "ref_next_tokens" in entry and i + 1 < depth:
                ref_next = entry["ref_next_tokens"].numpy()
                same = np.array_equal(ref_next, engine_tokens[i + 1])
                print("  block %-2d pruning: keeps %d tokens, ranking margin %.1e, %s"
                      % (i, ref_next.shape[1], entry["prune_margin"], "same tokens" if same else "DIFFERENT tokens"))
                if not same and (strict or entry["prune_margin"] >= AMBIGUOUS_REL):
                    failures.append("block %d: kept tokens %s, reference %s" % (
                        i, self.first_difference(engine_tokens[i + 1], ref_next), "(clear ranking)"))
            if source == "learned":
                near_tie = max(near_tie_base, INPUT_ERROR_FACTOR * input_error)
            if i + 1 < depth:
                diff, scale = max_rel_diff(hidden[i].numpy(), np.load(os.path.join(acts, "block_%d.npy" % i)))
                input_error = diff / scale
            if source == "dense":
                continue
            ref_keys = entry["ref_keys"].numpy()
            if i not in engine_keys:
                # A block whose budget keeps every key is dense attention: no keys file then.
                self.assertEqual(ref_keys.shape[-1], ref_tokens.shape[1],
                                 "block_%d_keys.npy missing for a sparse block" % i)
                continue
            self.assertEqual(engine_keys[i].shape, ref_keys.shape, "block_%d_keys shape" % i)
            differ = (engine_keys[i] != ref_keys).any(axis=-1)
            clear = differ & ~ambiguous_rows(entry, near_tie)
            differing_rows += int(differ.sum())
            tie_rows_base += int(ambiguous_rows(entry, near_tie_base).sum())
            if clear.any() or (strict and differ.any()):
                where = tuple(int(v) for v in np.argwhere(clear if clear.any() else differ)[0])
                b, h, row = where
                failures.append("block %d image %d head %d query %d (margin %.1e, near-tie level %.1e): keys %s, "
                                "reference %s" % (i, b, h, row + 1, float(entry["row_margins"][b, h, row]), near_tie,
                                   engine_keys[i][b, h, row][:12].tolist(), ref_keys[b, h, row][:12].tolist()))
        if source != "dense":
            total = sum(int(np.prod(k.shape[:-1])) for k in engine_keys.values())
            self.assertTrue(total or keep_rate == 1.0, "no block_i_keys.npy for a sparse run")
            print("  mask rows with a margin <= %.0e: %d of %d; rows differing: %d (all within the near-tie "
                  "level: %s)" % (near_tie_base, tie_rows_base, total, differing_rows, "yes" if not failures else "no"))
            if source == "oracle":
                self.assertLessEqual(differing_rows, MAX_ORACLE_DIFF_ROWS, "too many near-tie flips")

        json_logits = np.array([r["logits"] for r in doc["results"]], dtype=np.float64)
        self.check_tensor("logits (json)", ref_logits, json_logits, failures)
        self.check_tensor("logits.npy", ref_logits, np.load(os.path.join(acts, "logits.npy")), failures)
        for i in range(depth):
            got = np.load(os.path.join(acts, "block_%d.npy" % i))
            self.check_tensor("block_%d" % i, hidden[i].numpy(), got, failures)
        if source == "learned":
            # The float64 reference with its own masks: a flip the engine made spreads through
            # the later blocks (and in these peaky random models, far).
            model.set_masks(source, keep_rate=keep_rate, prune_at=prune_at, token_keep=token_keep,
                            budget_rule=budget_rule or "official")
            with torch.no_grad():
                own_logits = model(self.pixels(image_paths)).numpy()
            diff, scale = max_rel_diff(own_logits, json_logits)
            print("  %-22s rel %.2e  (information: see the module docstring)" % ("logits vs own float64", diff / scale))
            if differing_rows == 0:  # no flip: the same masks, so the same tolerance as above
                self.check_tensor("logits vs own float64", own_logits, json_logits, failures)
        self.assertFalse(failures, "%s:\n  %s" % (tag, "\n  ".join(failures)))
        return json_logits

    @staticmethod
    def first_difference(got, ref):
        b = int(np.argwhere((got != ref).any(axis=-1))[0][0])
        return "image %d: %s vs %s" % (b, np.setdiff1d(got[b], ref[b])[:8].tolist(), np.setdiff1d(ref[b], got[b])[:8].tolist())

    def dense_logits(self, model_key):
        path, config, _ = self.models[model_key]
        doc, _, _ = self.run_cli(path, self.images(config["img_size"]), ["--mask", "dense"],
                                 "%s_%d_dense" % model_key)
        return np.array([r["logits"] for r in doc["results"]], dtype=np.float64)


class DeitSmallSparseParity(SparseParityBase):
    """DeiT-S geometry at 224: near-ties exist (see the module docstring) and are tolerated."""

    def setUp(self):
        self.model(*DEIT_S)

    def test_learned_trained_rate(self):
        # No --mask flag: learned at the model's trained keep rate is the default on Sparsifiner weights.
        self.check_case(DEIT_S, "learned", pass_mask_flag=False)

    def test_learned_per_layer_rates(self):
        self.check_case(DEIT_S, "learned", keep_rate=DYADIC_RATES_12)

    def test_oracle_and_window(self):
        self.check_case(DEIT_S, "oracle", keep_rate=0.25)
        self.check_case(DEIT_S, "window", keep_rate=0.25)

    def test_pruning_with_learned_and_window(self):
        """The official budget (SPEC 3): ceil(0.25 x 197) = 50 keys per row in every block, also
        after pruning at 3, 6, 9 (197 -> 139 -> 98 -> 69 tokens), never recomputed from the alive
        tokens (which gave 35, 25 and 18)."""
        self.check_case(DEIT_S, "learned", prune_at=(3, 6, 9), token_keep=0.7, expect_kept=[50] * 12)
        self.check_case(DEIT_S, "window", keep_rate=0.25, prune_at=(3, 6, 9), token_keep=0.7,
                        expect_kept=[50] * 12)

    def test_pruning_with_the_alive_budget_rule(self):
        """--budget-rule alive: ceil(0.25 x T) of the T tokens alive at each block."""
        alive = [197] * 4 + [1 + 138] * 3 + [1 + 98] * 3 + [1 + 69] * 2
        self.check_case(DEIT_S, "window", keep_rate=0.25, prune_at=(3, 6, 9), token_keep=0.7,
                        budget_rule="alive", expect_kept=[math.ceil(0.25 * t) for t in alive])

    def test_full_keep_rate_is_dense(self):
        """keep rate 1.0 keeps every key: learned and oracle must equal dense attention (engine
        vs engine, and the dense engine vs the reference)."""
        dense = self.dense_logits(DEIT_S)
        learned = self.check_case(DEIT_S, "learned", keep_rate=1.0)
        oracle = self.check_case(DEIT_S, "oracle", keep_rate=1.0)
        _, _, model = self.models[DEIT_S]
        model.set_masks("dense")
        with torch.no_grad():
            ref = model(self.pixels(self.images(224))).numpy()
        for label, got in (("dense", dense), ("learned 1.0", learned), ("oracle 1.0", oracle)):
            diff, scale = max_rel_diff(ref, got)
            print("  %-12s vs dense reference: rel %.2e" % (label, diff / scale))
            self.assertLessEqual(diff, REL_TOL * scale, label)


class DeitTinySparseParity(SparseParityBase):
    """DeiT-Ti geometry at 224: learned masks at the trained rate, with and without pruning."""

    def setUp(self):
        self.model(*DEIT_TI)

    def test_learned_trained_rate(self):
        self.check_case(DEIT_TI, "learned")

    def test_learned_with_pruning(self):
        self.check_case(DEIT_TI, "learned", prune_at=(3, 6, 9), token_keep=0.7, expect_kept=[50] * 12)


class SmallSparseParity(SparseParityBase):
    """A small distilled geometry whose seed leaves no ambiguous row: masks must be identical."""

    # The last two prune hard enough (36 -> 26 -> 18 patches at 0.7) that the official budget
    # ceil(0.75 x 38) = 29 is clamped to the alive patches: 26, then 18 keys of 28 and 20 tokens.
    CASES = (("learned", None, ()), ("learned", DYADIC_RATES_4, ()), ("oracle", 0.25, ()),
             ("window", 0.25, ()), ("learned", None, (1, 2)), ("window", 0.25, (1, 2)),
             ("learned", 0.75, (1, 2)), ("oracle", 0.75, (1, 2)))
    EXPECT_KEPT = {("learned", 0.75, (1, 2)): [29, 29, 26, 18], ("oracle", 0.75, (1, 2)): [29, 29, 26, 18]}

    def seed_for(self, source, rate, prune):
        """The first seed from 100 whose reference margins for this case (both images, every
        block) all reach SMALL_SEED_MIN_MARGIN: deterministic, and a strict comparison is then
        meaningful. About one seed in three qualifies for a case (measured), rarely all six at
        once, hence a seed per case; small models cost milliseconds."""
        for seed in range(100, 200):
            _, config, model = self.model("small", seed)
            model.set_masks(source, keep_rate=rate, prune_at=prune)
            with torch.no_grad():
                model.forward_features(self.pixels(self.images(config["img_size"])))
            worst = min(model.min_margins())
            if worst >= SMALL_SEED_MIN_MARGIN:
                print("\nsmall model for %s %s %s: seed %d, smallest margin %.1e" % (source, rate, prune, seed, worst))
                return ("small", seed)
        self.fail("no seed without near-ties for %s %s %s: widen the search" % (source, rate, prune))

    def test_cases_strict(self):
        for source, rate, prune in self.CASES:
            key = self.seed_for(source, rate, prune)
            self.check_case(key, source, keep_rate=rate, prune_at=prune, strict=True,
                            expect_kept=self.EXPECT_KEPT.get((source, rate, prune)) if not isinstance(rate, list)
                            else None)

    def test_full_keep_rate_is_dense(self):
        key = self.seed_for("learned", None, ())
        dense = self.dense_logits(key)
        for source in ("learned", "oracle", "window"):
            got = self.check_case(key, source, keep_rate=1.0, strict=True)
            diff, scale = max_rel_diff(dense, got)
            self.assertLessEqual(diff, REL_TOL * scale, "%s at 1.0 vs dense engine" % source)


class ReferenceSelfChecks(unittest.TestCase):
    """Checks of the reference and of the criterion, no binary needed."""

    def small(self, seed=3):
        config = S.sparsifiner_config(S.custom_config(num_classes=10, **SMALL_GEOMETRY), basis_coef_topk=SMALL_TOPK)
        model = S.Sparsifiner(config).load_state(S.random_sparsifiner_state(config, seed))
        x = torch.stack([deit_ref.preprocess_pixels(np.array(smooth_image(96, s))) for s in (5, 6)])
        return config, model, x

    def test_full_keep_rate_equals_dense_in_reference(self):
        _, model, x = self.small()
        with torch.no_grad():
            dense = model.set_masks("dense")(x)
            for source in ("learned", "oracle", "window"):
                got = model.set_masks(source, keep_rate=1.0)(x)
                self.assertLess(float((got - dense).abs().max()), 1e-12, source)

    def test_official_budget_after_pruning(self):
        """SPEC 3: ceil(rate x all tokens), after pruning clamped to the alive patches only."""
        self.assertEqual(S.row_budget(0.25, 197, 197, 1, False), 50)
        self.assertEqual(S.row_budget(0.25, 197, 139, 1, True), 50)
        self.assertEqual(S.row_budget(0.25, 197, 70, 1, True), 50)
        self.assertEqual(S.row_budget(0.25, 197, 40, 1, True), 39)  # 39 patches alive (+ cls)
        self.assertEqual(S.row_budget(1.0, 197, 139, 1, True), 138)  # one key short of dense
        self.assertEqual(S.row_budget(0.25, 197, 139, 1, True, "alive"), 35)
        self.assertEqual(S.row_budget(1.0, 197, 139, 1, True, "alive"), 139)

    def test_topk_ties_to_lower_index(self):
        scores = torch.tensor([[1.0, 3.0, 3.0, 0.0, 3.0, 0.0, 0.0]], dtype=torch.float64)
        self.assertEqual(S.topk_lower_index(scores, 2).tolist(), [[1, 2]])
        self.assertEqual(S.topk_lower_index(scores, 5).tolist(), [[0, 1, 2, 3, 4]])

    def test_window_pattern_by_hand(self):
        """3x3 grid, no dist token, budget ceil(0.45 * 10) = 5: query at the centre cell (token
        5) keeps cls, itself and the 3 lowest-index of its 4 edge neighbours
        (distance 1; 8 loses the tie); the corner cell (token 1)
        keeps cls, itself, its two neighbours (2, 4) and, of the distance-sqrt(2) and distance-2
        cells, the diagonal 5."""
        config = {"distilled": False}
        alive = torch.arange(10).unsqueeze(0)
        keys, _ = S.window_keys(config, alive, 1, S.budget(0.45, 10), 3)
        self.assertEqual(keys[0, 0, 4].tolist(), [0, 2, 4, 5, 6])  # query token 5 (row 4)
        self.assertEqual(keys[0, 0, 0].tolist(), [0, 1, 2, 4, 5])

    def test_criterion_detects_plausible_predictor_bugs(self):
        """Predictor bugs played on the reference change many clear (non-ambiguous) mask rows."""
        config, model, x = self.small()
        model.set_masks("learned")
        with torch.no_grad():
            model.forward_features(x)
        good = [(e["ref_keys"].clone(), e["row_margins"]) for e in model.trace]

        def clear_differences(bug):
            saved_config, saved_w = dict(model.config), dict(model.w)
            bug(model)
            try:
                model.set_masks("learned")
                with torch.no_grad():
                    model.forward_features(x)
            finally:
                model.config, model.w = saved_config, saved_w
            # Block 0 only: later blocks see a different input anyway.
            keys, margins = good[0]
            return int(((model.trace[0]["ref_keys"] != keys).any(-1) & (margins >= AMBIGUOUS_REL)).sum())

        H = config["num_heads"]
        d = config["embed_dim"] // H
        proj_n = "blocks.0.attn.mask_predictor.proj_n"
        back = "blocks.0.attn.mask_predictor.proj_back_n"
        bugs = {
            # kl is linear in proj_n, so scaling it by sqrt(H / d) turns H^-0.5 into d^-0.5.
            "cheap scaled by d^-0.5": lambda m: m.w.update({proj_n: m.w[proj_n] * math.sqrt(H / d)}),
            "all K coefficients kept": lambda m: m.config.update(basis_coef_topk=10 ** 6),
            "threshold not applied": lambda m: m.config.update(basis_threshold=-1.0),
            # abs taken after thresholding: negative entries all vanish.
            "threshold on signed values": lambda m: m.w.update({back: m.w[back].clamp_min(0.0)}),
            "proj_back_n not transposed": lambda m: m.w.update({back: m.w[back].flip(0)}),
        }
        print()
        for label, bug in bugs.items():
            n = clear_differences(bug)
            total = good[0][0].shape[0] * good[0][0].shape[1] * good[0][0].shape[2]
            print("%-28s clear mask rows changed in block 0: %d of %d" % (label, n, total))
            self.assertGreater(n, total // 20, label)


if __name__ == "__main__":
    unittest.main(verbosity=2)
