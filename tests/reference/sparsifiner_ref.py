"""An independent PyTorch reference of Sparsifiner inference (SPEC sections 2, 3 and 4).

Extends deit_ref.DeiT (dense DeiT, SPEC 1) with, in float64 and plain tensor operations:
- the connectivity predictor of SPEC 2 (learned masks), the `oracle` and `window` mask sources of
  SPEC 4, and attention whose softmax runs over the kept keys only;
- token pruning of SPEC 3: dropped tokens are removed (not zeroed) from the next block on.
Written from the SPEC and the task brief alone; nothing here comes from the engine or the
official code. Masks are built as dense [B, H, N, N] booleans: the reference may be slow.

Dimension letters as in deit_ref: B images, N alive tokens, D width, H heads, d head dim,
K compressed tokens, c reduced channel width, k kept keys per row, E extra tokens (cls, dist).
All ties (top-k of coefficients, of scores, of the pruning ranking) go to the lower index.

Public API:
    sparsifiner_config(base_config, keep_rate=0.25, ...) -> config with the predictor keys
    predictor_shapes(config)            -> name -> shape of every mask_predictor tensor
    random_sparsifiner_state(config, seed) -> float32 arrays (DeiT + predictor)
    write_sparsifiner_model(path, state, config, seed=None)
    Sparsifiner(config).load_state(tensors); .set_masks(...); .forward_features(x) / .head(...)
        after a forward: .trace has per block the kept keys, alive tokens, margins
"""
import math
import os
import sys

import numpy as np
import torch

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
import deit_ref  # noqa: E402
from deit_ref import safetensors_io  # noqa: E402

SPARSIFINER_DEFAULTS = {"keep_rate": 0.25, "basis_coef_topk": 8, "basis_threshold": 0.02,
                        "reduce_c_factor": 2, "reduce_n_factor": 6}


def sparsifiner_config(base_config, **overrides):
    config = dict(base_config)
    config.update(SPARSIFINER_DEFAULTS)
    config.update(overrides)
    config["sparsifiner"] = True
    return config


def custom_config(embed_dim, num_heads, depth, img_size, patch_size=16, num_classes=100,
                  distilled=False):
    """A DeiT-like geometry outside the SPEC table (MLP hidden 4D), for small fast tests."""
    return {"arch": "deit_custom", "embed_dim": embed_dim, "num_heads": num_heads, "depth": depth,
            "mlp_hidden": 4 * embed_dim, "patch_size": patch_size, "img_size": img_size,
            "num_classes": num_classes, "distilled": distilled}


def extra_tokens(config):
    return 2 if config["distilled"] else 1


def predictor_dims(config):
    """-> (N, K, c) of the predictor at the trained size (SPEC 2)."""
    grid = config["img_size"] // config["patch_size"]
    N = grid * grid + extra_tokens(config)
    d = config["embed_dim"] // config["num_heads"]
    return N, N // config["reduce_n_factor"], d // config["reduce_c_factor"]


def predictor_shapes(config):
    N, K, c = predictor_dims(config)
    d = config["embed_dim"] // config["num_heads"]
    shapes = {}
    for i in range(config["depth"]):
        m = "blocks.%d.attn.mask_predictor." % i
        shapes.update({m + "proj_c_q.weight": (c, d), m + "proj_c_q.bias": (c,),
                       m + "proj_c_k.weight": (c, d), m + "proj_c_k.bias": (c,),
                       m + "proj_n": (N, K), m + "proj_back_n": (N, K)})
    return shapes


def budget(rate, n):
    """ceil(rate * n), at least 1 and at most n (SPEC 2 step 7, SPEC 3)."""
    return max(1, min(n, int(math.ceil(rate * n))))


def row_budget(rate, n_full, n_alive, extra, after_pruning, rule="official"):
    """Keys kept per non-cls query row of a block with n_alive tokens of n_full (SPEC 3).
    official: ceil(rate * n_full) in every block, after a pruning block at most the alive PATCH
    count (the official model clamps to its token mask, which covers patches only); alive:
    ceil(rate * n_alive), the rule the engine had before (--budget-rule alive)."""
    if rule == "alive":
        return budget(rate, n_alive)
    if rule != "official":
        raise ValueError("row_budget: unknown rule %s" % rule)
    kept = budget(rate, n_full)
    if after_pruning:
        kept = max(1, min(kept, n_alive - extra))
    return kept


# ---------------------------------------------------------------------------------------------
# Seeded weights: a DeiT from deit_ref plus a predictor whose scores are meaningful.

def random_sparsifiner_state(config, seed, back_std=0.02):
    """deit_ref.random_deit_state plus predictor tensors.

    Scales are chosen so that the predictor is neither uniform nor one-hot: with q entries of
    std ~2 (deit_ref's peaky q), proj_c_q / proj_c_k of std 0.5/sqrt(d) and proj_n of std
    0.5/sqrt(N) give qc and kl entries of std ~1, so `cheap` has a std of ~sqrt(c / H) (2.3 for
    DeiT-S) and the basis_coef_topk coefficients kept after the softmax are of comparable size.
    proj_back_n ~ N(0, back_std): with 0.02, P(|x| > 0.02) = 32% of the basis survives.
    """
    state = deit_ref.random_deit_state(config, seed)
    rng = np.random.default_rng(seed + 7919)  # separate stream: the DeiT part stays deit_ref's
    N, K, c = predictor_dims(config)
    d = config["embed_dim"] // config["num_heads"]
    for i in range(config["depth"]):
        m = "blocks.%d.attn.mask_predictor." % i
        for proj in ("proj_c_q", "proj_c_k"):
            state[m + proj + ".weight"] = (rng.standard_normal((c, d)) * 0.5 / math.sqrt(d)).astype(np.float32)
            state[m + proj + ".bias"] = (rng.standard_normal((c,)) * 0.1).astype(np.float32)
        state[m + "proj_n"] = (rng.standard_normal((N, K)) * 0.5 / math.sqrt(N)).astype(np.float32)
        state[m + "proj_back_n"] = (rng.standard_normal((N, K)) * back_std).astype(np.float32)
    return state


def sparsifiner_metadata(config, seed=None):
    meta = deit_ref.model_metadata(config, seed)
    meta["sparsifiner"] = "true"
    meta["converter"] = "tests/reference/sparsifiner_ref.py"
    meta["keep_rate"] = repr(float(config["keep_rate"]))
    meta["basis_coef_topk"] = str(int(config["basis_coef_topk"]))
    meta["basis_threshold"] = repr(float(config["basis_threshold"]))
    meta["reduce_c_factor"] = str(int(config["reduce_c_factor"]))
    meta["reduce_n_factor"] = str(int(config["reduce_n_factor"]))
    meta["prune_at"] = ""
    return meta


def write_sparsifiner_model(path, state, config, seed=None):
    shapes = dict(deit_ref.expected_shapes(config))
    shapes.update(predictor_shapes(config))
    for name, shape in shapes.items():
        if name not in state or tuple(np.shape(state[name])) != shape:
            raise ValueError("write_sparsifiner_model: tensor %s missing or not of shape %s" % (name, shape))
    tensors = {name: np.ascontiguousarray(state[name], dtype=np.float32) for name in shapes}
    safetensors_io.write_safetensors(path, tensors, sparsifiner_metadata(config, seed))


def config_from_metadata(metadata):
    """A reference config from a file's `__metadata__` (weights/METADATA.md)."""
    config = {"arch": metadata.get("arch", "deit")}
    for key in ("embed_dim", "num_heads", "depth", "mlp_hidden", "patch_size", "img_size", "num_classes"):
        config[key] = int(metadata[key])
    config["distilled"] = metadata.get("distilled") == "true"
    if int(metadata.get("in_chans", 3)) != 3:  # grey models (a 1-channel patch embedding)
        config["in_chans"] = int(metadata["in_chans"])
    if metadata.get("sparsifiner") == "true":
        config = sparsifiner_config(
            config, keep_rate=float(metadata["keep_rate"]),
            basis_coef_topk=int(metadata["basis_coef_topk"]),
            basis_threshold=float(metadata["basis_threshold"]),
            reduce_c_factor=int(metadata.get("reduce_c_factor", 2)),
            reduce_n_factor=int(metadata.get("reduce_n_factor", 6)))
    return config


# ---------------------------------------------------------------------------------------------
# Top-k with ties to the lower index, and margins.

def topk_lower_index(scores, k):
    """Indices [..., k] of the k largest entries of the last axis, ties to the lower index,
    returned in ascending index order. A stable descending sort keeps equal entries in index
    order, which is exactly the tie rule."""
    order = torch.sort(scores, dim=-1, descending=True, stable=True).indices[..., :k]
    return torch.sort(order, dim=-1).values


def cut_margin(scores, k):
    """Relative gap at the cut of a top-k over the last axis: (s_(k) - s_(k+1)) / max|s| per row,
    where s_(j) is the j-th largest. An exact tie at zero (both 0.0) is reported as +inf: every
    implementation computes those zeros exactly and resolves them by index."""
    n = scores.shape[-1]
    if k >= n:
        return torch.full(scores.shape[:-1], math.inf, dtype=torch.float64)
    s = torch.sort(scores.to(torch.float64), dim=-1, descending=True).values
    gap = s[..., k - 1] - s[..., k]
    scale = s.abs().amax(dim=-1).clamp_min(1e-300)
    rel = gap / scale
    exact_zero_tie = (s[..., k - 1] == 0) & (s[..., k] == 0)
    return torch.where(exact_zero_tie, torch.full_like(rel, math.inf), rel)


# ---------------------------------------------------------------------------------------------
# Mask sources. Each returns, for the non-cls query rows, kept key indices [B, H, N-1, k]
# (indices into the alive token list, ascending) and the per-row cut margins [B, H, N-1].

def basis_matrix(proj_back_n, threshold):
    """|proj_back_n|^T [K, N] with entries <= threshold set to 0 (SPEC 2 step 5)."""
    basis = proj_back_n.abs().t().clone()
    basis[basis <= threshold] = 0.0
    return basis


def learned_keys(w, config, layer, q, k, alive, kept):
    """The connectivity predictor (SPEC 2 steps 1-7) on the alive tokens `alive` [B, N], keeping
    `kept` keys per row (row_budget)."""
    m = "blocks.%d.attn.mask_predictor." % layer
    H = q.shape[1]
    N = q.shape[2]
    qc = q @ w[m + "proj_c_q.weight"].t() + w[m + "proj_c_q.bias"]  # [B, H, N, c]
    kc = k @ w[m + "proj_c_k.weight"].t() + w[m + "proj_c_k.bias"]  # [B, H, N, c]
    # A pruned layer uses the rows of proj_n / columns of basis of its surviving tokens only.
    proj_n = w[m + "proj_n"][alive]  # [B, N, K]
    kl = kc.transpose(-2, -1) @ proj_n.unsqueeze(1)  # [B, H, c, K]
    cheap = (qc @ kl) * (H ** -0.5)  # [B, H, N, K]: scaled by the head count, not d
    coef = torch.softmax(cheap[:, :, 1:], dim=-1)  # cls row dropped: [B, H, N-1, K]
    topk = min(int(config["basis_coef_topk"]), coef.shape[-1])
    keep = topk_lower_index(coef, topk)
    sparse_coef = torch.zeros_like(coef).scatter_(-1, keep, coef.gather(-1, keep))  # no renormalisation
    basis = basis_matrix(w[m + "proj_back_n"], float(config["basis_threshold"]))  # [K, N_full]
    basis_alive = torch.stack([basis[:, a] for a in alive])  # [B, K, N]
    approx = sparse_coef @ basis_alive.unsqueeze(1)  # [B, H, N-1, N]
    kept = min(kept, N)
    coef_margin = cut_margin(coef, topk)
    return topk_lower_index(approx, kept), torch.minimum(cut_margin(approx, kept), coef_margin)


def oracle_keys(q, k, kept):
    """Top-k of the true scores q_i . k_j per non-cls row (SPEC 4), `kept` keys per row."""
    N = q.shape[2]
    scores = q[:, :, 1:] @ k.transpose(-2, -1)  # [B, H, N-1, N]
    kept = min(kept, N)
    return topk_lower_index(scores, kept), cut_margin(scores, kept)


def window_keys(config, alive, H, kept, grid):
    """The fixed local pattern (SPEC 4), as the engine documents it: a patch query keeps every
    alive extra token first, then the nearest alive patches by Euclidean distance of grid cells
    (itself included), ties to the lower token index; a dist query keeps the `budget` lowest
    alive indices. Depends on positions only, so margins are +inf."""
    E = extra_tokens(config)
    B, N = alive.shape
    kept = min(kept, N)
    out = torch.zeros(B, N - 1, kept, dtype=torch.long)
    for b in range(B):
        tokens = alive[b].tolist()
        for i in range(1, N):
            t = tokens[i]
            if t < E:  # the dist token
                out[b, i - 1] = torch.arange(kept)
                continue
            r, c = divmod(t - E, grid)
            ranked = []
            for j, u in enumerate(tokens):
                if u < E:
                    ranked.append((-1, j))
                else:
                    ru, cu = divmod(u - E, grid)
                    ranked.append(((ru - r) ** 2 + (cu - c) ** 2, j))
            ranked.sort()
            out[b, i - 1] = torch.tensor(sorted(j for _, j in ranked[:kept]))
    keys = out.unsqueeze(1).expand(B, H, N - 1, kept).contiguous()
    return keys, torch.full((B, H, N - 1), math.inf, dtype=torch.float64)


def masked_attention(q, k, v, keys):
    """Softmax over the kept keys only; the cls row (row 0) keeps all keys.
    q, k, v [B, H, N, d], keys [B, H, N-1, k] -> (out [B, H, N, d], probs [B, H, N, N])."""
    B, H, N, d = q.shape
    mask = torch.zeros(B, H, N, N, dtype=torch.bool)
    mask[:, :, 0] = True
    mask[:, :, 1:].scatter_(-1, keys, True)
    scores = (q @ k.transpose(-2, -1)) * (d ** -0.5)
    scores = scores.masked_fill(~mask, -math.inf)
    probs = torch.softmax(scores, dim=-1)
    return probs @ v, probs


# ---------------------------------------------------------------------------------------------
# The model.

class Sparsifiner(deit_ref.DeiT):
    """DeiT with masked attention and token pruning. Configure with set_masks, then call
    forward_features / head as for deit_ref.DeiT. After a forward, self.trace[i] holds for block
    i: `tokens` [B, N_i] (original index of each alive token at the block input), `keys`
    [B, H, N_i-1, k_i] or None (dense), `margin` (min relative cut margin of the block's mask),
    and at a pruning block `prune_margin` (relative gap of the pruning ranking at the cut)."""

    def __init__(self, config, dtype=torch.float64):
        super().__init__(config, dtype)
        self.attention = self._attend
        self.set_masks("dense")

    def set_masks(self, source, keep_rate=None, prune_at=(), token_keep=0.7, forced_keys=None,
                  forced_tokens=None, budget_rule="official"):
        """source: dense | learned | oracle | window; keep_rate: a float or one per block
        (default: the model's trained keep_rate); prune_at: blocks that drop tokens, with
        rate token_keep ** (position + 1); budget_rule: official | alive (row_budget).

        forced_keys {block: [B, H, N-1, k]} and forced_tokens {block: [B, N]} make the forward
        use another implementation's masks and surviving tokens instead of its own (which are
        still computed and kept in the trace as `ref_keys` / `ref_tokens` with their per-row
        margins). A parity test uses this to follow the engine through rows where the choice is
        a numerical near-tie, after checking that only such rows differ."""
        if source not in ("dense", "learned", "oracle", "window"):
            raise ValueError("set_masks: unknown mask source %s" % source)
        if source == "learned" and not self.config.get("sparsifiner"):
            raise ValueError("set_masks: learned masks need a Sparsifiner config")
        if keep_rate is None:
            keep_rate = self.config.get("keep_rate", 0.25)
        if not isinstance(keep_rate, (list, tuple)):
            keep_rate = [keep_rate] * self.config["depth"]
        if len(keep_rate) != self.config["depth"]:
            raise ValueError("set_masks: %d keep rates for %d blocks" % (len(keep_rate), self.config["depth"]))
        self.source = source
        self.keep_rates = [float(r) for r in keep_rate]
        self.prune_rates = {int(l): float(token_keep) ** (n + 1) for n, l in enumerate(prune_at)}
        if budget_rule not in ("official", "alive"):
            raise ValueError("set_masks: unknown budget rule %s" % budget_rule)
        self.budget_rule = budget_rule
        self.forced_keys = {int(i): torch.as_tensor(np.asarray(v), dtype=torch.long)
                            for i, v in (forced_keys or {}).items()}
        self.forced_tokens = {int(i): torch.as_tensor(np.asarray(v), dtype=torch.long)
                              for i, v in (forced_tokens or {}).items()}
        return self

    def _attend(self, layer, q, k, v):
        alive = self.alive
        H = q.shape[1]
        rate = self.keep_rates[layer]
        entry = {"tokens": alive.clone(), "keys": None, "margin": None}
        if self.source == "dense":
            d = q.shape[-1]
            probs = torch.softmax((q @ k.transpose(-2, -1)) * (d ** -0.5), dim=-1)
            out = probs @ v
        else:
            after_pruning = any(p < layer for p in self.prune_rates)
            kept = row_budget(rate, self.tokens_full, q.shape[2], extra_tokens(self.config), after_pruning,
                              self.budget_rule)
            if self.source == "learned":
                keys, margins = learned_keys(self.w, self.config, layer, q, k, alive, kept)
            elif self.source == "oracle":
                keys, margins = oracle_keys(q, k, kept)
            else:
                keys, margins = window_keys(self.config, alive, H, kept, self.grid)
            entry.update(ref_keys=keys, row_margins=margins, margin=float(margins.min()), keys=keys)
            if layer in self.forced_keys:
                forced = self.forced_keys[layer]
                if forced.shape != keys.shape:
                    raise ValueError("block %d: forced keys of shape %s, the reference has %s"
                                     % (layer, tuple(forced.shape), tuple(keys.shape)))
                entry["keys"] = forced
            out, probs = masked_attention(q, k, v, entry["keys"])
        if layer in self.prune_rates:
            self.survivors, entry["prune_margin"], entry["prune_row_margins"] = \
                self._choose_survivors(probs, self.prune_rates[layer])
            entry["ref_next_tokens"] = torch.gather(alive, 1, self.survivors)
            if layer + 1 in self.forced_tokens:
                self.survivors = self._positions_of(self.forced_tokens[layer + 1], alive, layer)
        self.trace.append(entry)
        return out

    def _choose_survivors(self, probs, rate):
        """SPEC 3: rank patch tokens by the cls row of the (masked) attention averaged over
        heads; keep the top ceil(rate * original patch count); extras always stay; survivors in
        their original order. -> (alive-list positions [B, N'], relative ranking margin)."""
        E = extra_tokens(self.config)
        cls_row = probs[:, :, 0, E:].mean(dim=1)  # [B, N - E]
        keep = min(budget(rate, self.grid * self.grid), cls_row.shape[-1])
        chosen = topk_lower_index(cls_row, keep) + E
        extras = torch.arange(E).expand(cls_row.shape[0], E)
        margins = cut_margin(cls_row, keep)
        return torch.cat([extras, chosen], dim=1), float(margins.min()), margins

    @staticmethod
    def _positions_of(tokens, alive, layer):
        """Original token indices [B, N'] -> their positions in the alive list [B, N']."""
        positions = []
        for b in range(alive.shape[0]):
            where = {int(t): n for n, t in enumerate(alive[b].tolist())}
            missing = [int(t) for t in tokens[b].tolist() if int(t) not in where]
            if missing:
                raise ValueError("block %d: forced token %d is not alive" % (layer + 1, missing[0]))
            positions.append([where[int(t)] for t in tokens[b].tolist()])
        return torch.tensor(positions, dtype=torch.long)

    def forward_features(self, x):
        x = self.embed(x)
        B, N, _ = x.shape
        self.grid = x.shape[1] - extra_tokens(self.config)
        self.grid = int(round(math.sqrt(self.grid)))
        self.alive = torch.arange(N).expand(B, N).clone()
        self.tokens_full = N
        self.trace = []
        hidden = []
        for i in range(self.config["depth"]):
            self.survivors = None
            x = self.block(i, x)
            if self.survivors is not None:
                # Pruning removes tokens: rows are gathered, later blocks run on fewer tokens.
                pos = self.survivors
                x = torch.gather(x, 1, pos.unsqueeze(-1).expand(-1, -1, x.shape[-1]))
                self.alive = torch.gather(self.alive, 1, pos)
            hidden.append(x)
        x = deit_ref.layer_norm(x, self.w["norm.weight"], self.w["norm.bias"])
        return x, hidden

    def min_margins(self):
        """(smallest mask cut margin over blocks, smallest pruning margin) of the last forward."""
        mask = [e["margin"] for e in self.trace if e["margin"] is not None]
        prune = [e["prune_margin"] for e in self.trace if "prune_margin" in e]
        return (min(mask) if mask else math.inf), (min(prune) if prune else math.inf)
