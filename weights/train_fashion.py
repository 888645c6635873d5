"""Train the bundled models: a small DeiT on Fashion-MNIST, then its Sparsifiner predictor.

Three stages, one run directory, resumable at every epoch boundary (--resume):
  1. dense      the DeiT backbone from scratch: AdamW, warm-up then cosine, label smoothing,
                random 2-pixel shifts and horizontal flips, stochastic depth.
  2. predictor  the Sparsifiner connectivity predictor (SPEC section 2) added to every block and
                trained with the backbone frozen to reconstruct the dense attention maps
                (squared error between `coef basis` and the dense softmax rows, cls row excluded).
  3. finetune   everything trained with the top-k masks in the loop (attention over the kept keys
                only, at budgets drawn from the sweep's keep rates), distilled from the frozen dense
                model (KL of the logits and squared error of the final tokens) plus the label loss
                and the reconstruction loss, which is what teaches the predictor (the top-k mask
                itself passes no gradient).
A dense model can also be trained further in a new run: --init-from <earlier run>/dense.pth starts
stage 1 from it for another warm-up + cosine cycle (a warm restart, by default 6 epochs at a peak of
3e-4), then runs stages 2 and 3 as usual; the earlier schedule is recorded under `init_from`.
Checkpoints are written in the official training layout ({"model", "optimizer", "args", "epoch",
...}) so weights/convert.py reads them: <run>/dense.pth after stage 1, <run>/sparsifiner.pth after
stage 3; <run>/state.pth is the resume point, <run>/log.jsonl the per-epoch log.

Geometry (SPEC section 1 blocks): 28x28 grey input with a 1-channel patch embedding (patch 4: a 7x7
grid plus the cls token, 50 tokens), width 128, 2 heads of 64, MLP 512, 6 blocks, LayerNorm eps
1e-6, exact GELU. Predictor at 50 tokens: c = 64 / 2 = 32, K = floor(50 / 3) = 16, top-8 coefficients.

Run with Debian's torch: /usr/bin/python3 weights/train_fashion.py --run runs/fashion
(install libopenblas0-pthread first: with the reference BLAS torch is ~40x slower).
"""
import argparse
import copy
import gzip
import json
import math
import os
import struct
import sys
import time


def _threads_from_argv(argv, default=1):
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--threads="):
            return arg.split("=", 1)[1]
    return str(default)


# OpenBLAS starts its own thread pool, which torch.set_num_threads does not reach: left alone it
# busies both cores of these machines while gaining nothing. Must be set before torch loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", _threads_from_argv(sys.argv))
os.environ.setdefault("OMP_NUM_THREADS", _threads_from_argv(sys.argv))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

FASHION_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
STAGES = ("dense", "predictor", "finetune")


def log(message):
    print("[train %s] %s" % (time.strftime("%H:%M:%S"), message), file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Data: the IDX files of Debian's dataset-fashion-mnist, held in memory as uint8 tensors.

def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, count = struct.unpack(">II", data[:8])
    if magic == 0x803:
        rows, cols = struct.unpack(">II", data[8:16])
        return torch.frombuffer(bytearray(data[16:]), dtype=torch.uint8).view(count, rows, cols)
    if magic == 0x801:
        return torch.frombuffer(bytearray(data[8:]), dtype=torch.uint8).view(count).long()
    raise ValueError("%s: not an IDX image or label file" % path)


def load_split(data_dir, split):
    def find(stem):
        for name in (stem, stem + ".gz"):
            path = os.path.join(data_dir, name)
            if os.path.exists(path):
                return path
        raise FileNotFoundError("%s: no %s(.gz) (install Debian's dataset-fashion-mnist)" % (data_dir, stem))
    return read_idx(find(split + "-images-idx3-ubyte")), read_idx(find(split + "-labels-idx1-ubyte"))


def augment(images, generator):
    """Random shifts of up to 2 pixels (zero padding) and horizontal flips, per image."""
    B, S = images.shape[0], images.shape[-1]
    padded = F.pad(images, (2, 2, 2, 2))
    dx = torch.randint(0, 5, (B,), generator=generator)
    dy = torch.randint(0, 5, (B,), generator=generator)
    flip = torch.rand(B, generator=generator) < 0.5
    out = torch.empty_like(images)
    for i in range(B):
        crop = padded[i, :, dy[i]:dy[i] + S, dx[i]:dx[i] + S]
        out[i] = crop.flip(-1) if flip[i] else crop
    return out


# ---------------------------------------------------------------------------------------------
# Model: DeiT blocks (SPEC 1) with the official key names, and the Sparsifiner predictor (SPEC 2).

class MaskPredictor(nn.Module):
    """Low-rank attention estimate: which keys each query should keep (SPEC 2 steps 1-6)."""

    def __init__(self, head_dim, tokens, reduce_c, reduce_n, coef_topk, threshold):
        super().__init__()
        c, K = head_dim // reduce_c, tokens // reduce_n
        self.proj_c_q = nn.Linear(head_dim, c)
        self.proj_c_k = nn.Linear(head_dim, c)
        # proj_back_n starts with magnitudes around 0.04 so that most of the basis clears the
        # 0.02 threshold at the start (a basis of zeros would pass no gradient).
        self.proj_n = nn.Parameter(torch.randn(tokens, K) / math.sqrt(tokens))
        self.proj_back_n = nn.Parameter(torch.randn(tokens, K) * 0.05)
        self.coef_topk, self.threshold = coef_topk, threshold

    def forward(self, q, k):
        """q, k [B, H, N, d] -> approx [B, H, N-1, N] connectivity scores of the non-cls rows."""
        H = q.shape[1]
        qc, kc = self.proj_c_q(q), self.proj_c_k(k)                 # [B, H, N, c]
        kl = kc.transpose(-2, -1) @ self.proj_n                      # [B, H, c, K]
        cheap = (qc @ kl) * H ** -0.5                                # [B, H, N, K]
        coef = cheap[:, :, 1:].softmax(dim=-1)
        top = coef.topk(self.coef_topk, dim=-1).indices
        coef = coef * torch.zeros_like(coef).scatter_(-1, top, 1.0)  # zero all but the top ones
        basis = self.proj_back_n.abs().t()                           # [K, N]
        basis = basis * (basis > self.threshold)
        return coef @ basis


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.mask_predictor = None

    def forward(self, x, keep_rate=None, record=None):
        B, N, D = x.shape
        qkv = self.qkv(x).view(B, N, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]                             # [B, H, N, d]
        scores = (q @ k.transpose(-2, -1)) * self.head_dim ** -0.5
        if record is not None:
            record["attn"] = scores.softmax(dim=-1)                  # dense attention (teacher side)
        if self.mask_predictor is not None and (keep_rate is not None or record is not None):
            approx = self.mask_predictor(q, k)
            if record is not None:
                record["approx"] = approx
            if keep_rate is not None:
                budget = min(N, max(1, math.ceil(keep_rate * N)))
                kept = approx.detach().topk(budget, dim=-1).indices
                keep = torch.zeros(B, self.heads, N - 1, N, dtype=torch.bool).scatter_(-1, kept, True)
                keep = torch.cat([torch.ones(B, self.heads, 1, N, dtype=torch.bool), keep], dim=2)
                scores = scores.masked_fill(~keep, float("-inf"))
        out = scores.softmax(dim=-1) @ v
        return self.proj(out.transpose(1, 2).reshape(B, N, D))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, heads, hidden, drop_path):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim, eps=1e-6), nn.LayerNorm(dim, eps=1e-6)
        self.attn, self.mlp = Attention(dim, heads), Mlp(dim, hidden)
        self.drop_path = drop_path

    def residual(self, x, branch):
        if not self.training or self.drop_path == 0:
            return x + branch
        alive = (torch.rand(x.shape[0], 1, 1) >= self.drop_path).to(x.dtype) / (1 - self.drop_path)
        return x + branch * alive

    def forward(self, x, keep_rate=None, record=None):
        x = self.residual(x, self.attn(self.norm1(x), keep_rate, record))
        return self.residual(x, self.mlp(self.norm2(x)))


class PatchEmbed(nn.Module):
    def __init__(self, chans, dim, patch):
        super().__init__()
        self.proj = nn.Conv2d(chans, dim, patch, patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class DeiT(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        D, grid = cfg["embed_dim"], cfg["img_size"] // cfg["patch_size"]
        self.tokens = grid * grid + 1
        self.patch_embed = PatchEmbed(cfg["in_chans"], D, cfg["patch_size"])
        self.cls_token = nn.Parameter(torch.zeros(1, 1, D))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.tokens, D))
        rates = [cfg["drop_path"] * i / max(1, cfg["depth"] - 1) for i in range(cfg["depth"])]
        self.blocks = nn.ModuleList(Block(D, cfg["num_heads"], cfg["mlp_hidden"], r) for r in rates)
        self.norm = nn.LayerNorm(D, eps=1e-6)
        self.head = nn.Linear(D, cfg["num_classes"])
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def add_predictors(self, cfg):
        for block in self.blocks:
            block.attn.mask_predictor = MaskPredictor(
                block.attn.head_dim, self.tokens, cfg["reduce_c_factor"], cfg["reduce_n_factor"],
                cfg["basis_coef_topk"], cfg["basis_threshold"])

    def forward(self, images, keep_rate=None, records=None):
        """-> (logits, final tokens after norm). records: a list to receive per-block dicts."""
        x = self.patch_embed(images)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        for block in self.blocks:
            record = {} if records is not None else None
            x = block(x, keep_rate, record)
            if records is not None:
                records.append(record)
        x = self.norm(x)
        return self.head(x[:, 0]), x


def backbone_state(model):
    return {k: v for k, v in model.state_dict().items() if ".mask_predictor." not in k}


def predictor_parameters(model):
    return [p for n, p in model.named_parameters() if ".mask_predictor." in n]


# ---------------------------------------------------------------------------------------------
# Training loop pieces.

def cosine_lr(base, step, total, warmup):
    if step < warmup:
        return base * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return 1e-2 * base + (base - 1e-2 * base) * 0.5 * (1 + math.cos(math.pi * t))


def normalise(images_u8, cfg):
    return (images_u8.float().unsqueeze(1) / 255.0 - cfg["mean"]) / cfg["std"]


@torch.no_grad()
def evaluate(model, images, labels, cfg, keep_rate=None, batch=500):
    model.eval()
    correct = 0
    for i in range(0, images.shape[0], batch):
        logits, _ = model(normalise(images[i:i + batch], cfg), keep_rate)
        correct += (logits.argmax(-1) == labels[i:i + batch]).sum().item()
    return correct / images.shape[0]


def recon_loss(records):
    """Squared error of the predictor's approximation against the dense attention rows (no cls
    row), summed over keys, averaged over images, heads, rows and layers."""
    total = 0.0
    for r in records:
        total = total + (r["approx"] - r["attn"][:, :, 1:].detach()).pow(2).sum(-1).mean()
    return total / len(records)


def save_atomic(obj, path):
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def release_checkpoint(model, cfg, stage, epoch, metrics):
    """The official training-checkpoint layout, with our hyper-parameters under `args`."""
    return {"model": model.state_dict(), "args": argparse.Namespace(**cfg), "epoch": epoch,
            "stage": stage, "metrics": metrics, "class_names": FASHION_CLASSES}


class EpochBudget:
    """--stop-after: how many more epochs this invocation may train (None: no limit), so that a
    session with little time left ends at an epoch boundary and a later one continues (--resume)."""

    def __init__(self, epochs):
        self.left = epochs

    def spend(self):
        if self.left is not None:
            self.left -= 1

    def exhausted(self):
        return self.left is not None and self.left <= 0


class StopForNow(Exception):
    pass


def run_stage(stage, model, teacher, cfg, data, state, run_dir, epoch_budget):
    train_x, train_y, test_x, test_y = data
    epochs = cfg["epochs_" + stage]
    start = state["epoch"] if state and state["stage"] == stage else 0
    if stage == "predictor":
        for p in model.parameters():
            p.requires_grad_(False)
        for p in predictor_parameters(model):
            p.requires_grad_(True)
        params, lr, wd = predictor_parameters(model), cfg["lr_predictor"], 0.0
    else:
        for p in model.parameters():
            p.requires_grad_(True)
        params = [p for p in model.parameters()]
        lr = cfg["lr_dense"] if stage == "dense" else cfg["lr_finetune"]
        wd = cfg["weight_decay"]
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": wd},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=lr)
    if start > 0:
        optimizer.load_state_dict(state["optimizer"])
    batch = cfg["batch_size"]
    steps_per_epoch = train_x.shape[0] // batch
    total_steps = epochs * steps_per_epoch
    warmup = steps_per_epoch if stage != "predictor" else 0
    # A continued run (--init-from) draws fresh orders and augmentations, not the first run's again.
    seed = cfg["seed"] + 100000 * cfg.get("round", 0)
    generator = torch.Generator().manual_seed(seed * 1000 + STAGES.index(stage) * 100)
    for _ in range(start):  # replay the generator so a resumed run draws what a straight run draws
        torch.randperm(train_x.shape[0], generator=generator)
    for epoch in range(start, epochs):
        torch.manual_seed(seed * 7919 + epoch + 100 * STAGES.index(stage))
        epoch_gen = torch.Generator().manual_seed(seed * 31 + epoch + 100 * STAGES.index(stage))
        order = torch.randperm(train_x.shape[0], generator=generator)
        model.train()
        if stage == "predictor":
            model.eval()  # frozen backbone: no stochastic depth
        t0, seen, loss_sum = time.time(), 0, 0.0
        for step in range(steps_per_epoch):
            idx = order[step * batch:(step + 1) * batch]
            x = normalise(train_x[idx], cfg)
            y = train_y[idx]
            if stage != "predictor":
                x = augment(x, epoch_gen)
            for group in optimizer.param_groups:
                group["lr"] = cosine_lr(lr, epoch * steps_per_epoch + step, total_steps, warmup)
            if stage == "dense":
                logits, _ = model(x)
                loss = F.cross_entropy(logits, y, label_smoothing=cfg["label_smoothing"])
            elif stage == "predictor":
                records = []
                model(x, None, records)
                loss = recon_loss(records)
            else:
                keep = cfg["finetune_keep_rates"][int(torch.randint(0, len(cfg["finetune_keep_rates"]), (1,),
                                                                    generator=epoch_gen))]
                records = []
                logits, tokens = model(x, keep, records)
                with torch.no_grad():
                    t_logits, t_tokens = teacher(x)
                kl = F.kl_div(F.log_softmax(logits, -1), F.log_softmax(t_logits, -1), reduction="batchmean",
                              log_target=True)
                loss = (F.cross_entropy(logits, y, label_smoothing=cfg["label_smoothing"]) + kl
                        + F.mse_loss(tokens, t_tokens) + cfg["recon_weight"] * recon_loss(records))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * y.shape[0]
            seen += y.shape[0]
            if step % 100 == 0:
                log("%s epoch %d/%d step %d/%d loss %.4f (%.0f img/s)" % (
                    stage, epoch + 1, epochs, step, steps_per_epoch, loss_sum / seen, seen / (time.time() - t0)))
        metrics = {"stage": stage, "epoch": epoch + 1, "train_loss": loss_sum / seen,
                   "seconds": round(time.time() - t0, 1)}
        metrics["test_top1_dense"] = evaluate(model, test_x, test_y, cfg)
        if stage != "dense":
            metrics["test_top1_keep0.25"] = evaluate(model, test_x, test_y, cfg, 0.25)
        log(json.dumps(metrics))
        with open(os.path.join(run_dir, "log.jsonl"), "a") as f:
            f.write(json.dumps(metrics) + "\n")
        save_atomic({"stage": stage, "epoch": epoch + 1, "model": model.state_dict(),
                     "optimizer": optimizer.state_dict(), "cfg": cfg}, os.path.join(run_dir, "state.pth"))
        epoch_budget.spend()
        # A stage's last epoch stops only after its release checkpoint is written (in main).
        if epoch_budget.exhausted() and epoch + 1 < epochs:
            raise StopForNow()
    return {"stage": stage, "epoch": epochs}


def parse_args(argv):
    p = argparse.ArgumentParser(prog="train_fashion.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, help="run directory (checkpoints, log)")
    p.add_argument("--resume", action="store_true", help="continue from <run>/state.pth")
    p.add_argument("--data", default=FASHION_DIR, help="folder with the Fashion-MNIST IDX files")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--init-from", metavar="DENSE_PTH",
                   help="start the dense stage from an earlier run's dense.pth (same geometry and data "
                        "normalisation) and train it for another cosine cycle: a warm restart")
    p.add_argument("--lr-dense", type=float, help="peak learning rate of the dense stage of a new run "
                   "(default 1e-3, or 3e-4 with --init-from)")
    p.add_argument("--epochs-dense", type=int, help="default 12 (6 with --init-from)")
    p.add_argument("--epochs-predictor", type=int, help="default 1")
    p.add_argument("--epochs-finetune", type=int, help="default 2")
    p.add_argument("--depth", type=int, default=6)
    p.add_argument("--embed-dim", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--limit", type=int, default=0, help="train on the first N images only (smoke tests)")
    p.add_argument("--stop-after", type=int, metavar="EPOCHS",
                   help="stop after this many epochs of this invocation (any stage); continue with --resume")
    return p.parse_args(argv)


def continued_config(args):
    """The config of a run that continues an earlier dense model (--init-from): its geometry,
    normalisation and recipe, with a new dense cycle. The earlier run's own schedule is kept under
    `init_from` so the released checkpoint still tells the whole training history."""
    earlier = torch.load(args.init_from, weights_only=False)
    if earlier.get("stage") != "dense" or "model" not in earlier or "args" not in earlier:
        sys.exit("train_fashion.py: %s: not a dense.pth written by this script" % args.init_from)
    cfg = dict(vars(earlier["args"]))
    history = {key: cfg.pop(key) for key in ("epochs_dense", "lr_dense", "schedule_changes", "init_from")
               if key in cfg}
    history.update(path=os.path.basename(args.init_from), epochs=earlier["epoch"],
                   test_top1_dense=earlier["metrics"]["test_top1_dense"])
    cfg["init_from"] = history
    cfg["round"] = cfg.get("round", 0) + 1
    cfg["epochs_dense"] = args.epochs_dense or 6
    cfg["lr_dense"] = args.lr_dense or 3e-4
    cfg["epochs_predictor"] = args.epochs_predictor or cfg["epochs_predictor"]
    cfg["epochs_finetune"] = args.epochs_finetune or cfg["epochs_finetune"]
    cfg["limit"] = args.limit
    weights = {k: v for k, v in earlier["model"].items() if ".mask_predictor." not in k}
    return cfg, weights


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    os.makedirs(args.run, exist_ok=True)
    state_path = os.path.join(args.run, "state.pth")
    state, init_weights = None, None
    if args.resume and os.path.exists(state_path):
        state = torch.load(state_path)
        cfg = state["cfg"]
        cfg.setdefault("crop_pct", 1.0)  # 28x28 in, no resize: runs started before the key existed
        log("resuming at stage %s after epoch %d" % (state["stage"], state["epoch"]))
        # Epoch counts may be changed on resume. For the stage in progress this stretches its
        # cosine schedule from the next epoch on; the change is recorded in the run's config (and
        # so in the released checkpoints' args) because a straight run would differ slightly.
        for stage in STAGES[STAGES.index(state["stage"]):]:
            wanted = getattr(args, "epochs_" + stage)
            if wanted is not None and wanted != cfg["epochs_" + stage]:
                if stage == state["stage"] and wanted < state["epoch"]:
                    sys.exit("train_fashion.py: stage %s already ran %d epochs" % (stage, state["epoch"]))
                log("stage %s: %d epochs instead of %d" % (stage, wanted, cfg["epochs_" + stage]))
                if stage == state["stage"]:
                    cfg.setdefault("schedule_changes", []).append(
                        "%s: %d -> %d epochs after epoch %d" % (stage, cfg["epochs_" + stage], wanted, state["epoch"]))
                cfg["epochs_" + stage] = wanted
    elif os.path.exists(state_path):
        sys.exit("train_fashion.py: %s exists; pass --resume or choose another --run" % state_path)
    elif args.init_from:
        cfg, init_weights = continued_config(args)
    else:
        cfg = {"arch": "deit_fashion", "embed_dim": args.embed_dim, "num_heads": args.embed_dim // 64,
               "depth": args.depth, "mlp_hidden": 4 * args.embed_dim, "patch_size": 4, "img_size": 28,
               "in_chans": 1, "crop_pct": 1.0, "num_classes": 10, "drop_path": 0.05, "seed": args.seed,
               "batch_size": args.batch_size, "lr_dense": args.lr_dense or 1e-3, "lr_predictor": 1e-3, "lr_finetune": 1e-4,
               "weight_decay": 0.05, "label_smoothing": 0.1, "recon_weight": 1.0,
               "epochs_dense": args.epochs_dense or 12, "epochs_predictor": args.epochs_predictor or 1,
               "epochs_finetune": args.epochs_finetune or 2, "finetune_keep_rates": [0.1, 0.25, 0.25, 0.5],
               "keep_rate": 0.25, "basis_coef_topk": 8, "basis_threshold": 0.02,
               "reduce_c_factor": 2, "reduce_n_factor": 3, "limit": args.limit}
    train_x, train_y = load_split(args.data, "train")
    test_x, test_y = load_split(args.data, "t10k")
    if cfg["limit"]:
        train_x, train_y = train_x[:cfg["limit"]], train_y[:cfg["limit"]]
        test_x, test_y = test_x[:cfg["limit"]], test_y[:cfg["limit"]]
    if "mean" not in cfg:  # normalisation from the training pixels, recorded in the metadata
        pixels = train_x.float() / 255.0
        cfg["mean"], cfg["std"] = round(pixels.mean().item(), 4), round(pixels.std().item(), 4)
    data = (train_x, train_y, test_x, test_y)

    torch.manual_seed(cfg["seed"])
    model = DeiT(cfg)
    log("model: %d parameters (backbone)" % sum(p.numel() for p in model.parameters()))
    done = STAGES.index(state["stage"]) if state else 0
    stage_finished = state is not None and state["epoch"] >= cfg["epochs_" + state["stage"]]
    if state and state["stage"] != "dense":
        model.add_predictors(cfg)
    if state:
        model.load_state_dict(state["model"])
    elif init_weights is not None:
        model.load_state_dict(init_weights)
        log("dense stage starts from %s (test top-1 %.4f)" % (
            cfg["init_from"]["path"], cfg["init_from"]["test_top1_dense"]))

    epoch_budget = EpochBudget(args.stop_after)
    for index, stage in enumerate(STAGES):
        if index < done or (index == done and stage_finished):
            continue
        if stage == "predictor" and model.blocks[0].attn.mask_predictor is None:
            torch.manual_seed(cfg["seed"] + 1)
            model.add_predictors(cfg)
        teacher = None
        if stage == "finetune":
            dense = torch.load(os.path.join(args.run, "dense.pth"))
            teacher = DeiT(cfg)
            teacher.load_state_dict(dense["model"])
            teacher.eval()
        resume_state = state if (state and state["stage"] == stage) else None
        try:
            run_stage(stage, model, teacher, cfg, data, resume_state, args.run, epoch_budget)
        except StopForNow:
            log("stopping in stage %s after %d epochs of this run (--stop-after); continue with --resume" % (
                stage, args.stop_after))
            return
        metrics = {"test_top1_dense": evaluate(model, test_x, test_y, cfg)}
        if stage == "dense":
            save_atomic(release_checkpoint(model, cfg, stage, cfg["epochs_dense"], metrics),
                        os.path.join(args.run, "dense.pth"))
        elif stage == "finetune":
            for rate in (0.5, 0.25, 0.1):
                metrics["test_top1_keep%s" % rate] = evaluate(model, test_x, test_y, cfg, rate)
            save_atomic(release_checkpoint(model, cfg, stage, cfg["epochs_finetune"], metrics),
                        os.path.join(args.run, "sparsifiner.pth"))
        log("stage %s done: %s" % (stage, json.dumps(metrics)))
        state = None
        if epoch_budget.exhausted() and index + 1 < len(STAGES):
            log("stopping after stage %s, %d epochs of this run (--stop-after); continue with --resume" % (
                stage, args.stop_after))
            return
    log("all stages done")


if __name__ == "__main__":
    main()
