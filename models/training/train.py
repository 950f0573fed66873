"""Resumable training of the compact CODiff: CaVE alone first (dual learning), then the generator.

Run (and rerun to continue from the last checkpoint):
  nohup /usr/bin/python3 models/training/train.py >> models/training/runs/codiff-tiny-r3/scratch/stdout.txt 2>&1 &

Phase "cave": CaVE + a training-only decoder; loss = L1(reconstruction, clean) + w_q * |q_pred - q| / 100.
Phase "gen":  CaVE frozen; vae_encoder + unet + vae_decoder trained end to end through the x0 formula
              with L1 on RGB (`--loss mse` or `mse-sample` for a late fine-tune toward PSNR). The phase
              switches after --cave-seconds of accumulated training time.
Files in --run-dir: log.jsonl (one line per log interval and per validation, with wall-clock),
weights.pt (fp16 weights, their EMA + progress, small, committed), scratch/state.pt (full state with the
optimizer, not committed). The EMA (--ema-decay) is what an export should take: `export_tiny.py --ema`. A GPU is used when torch sees one (torch 2.x + CUDA), with the same data and files.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import random
import signal
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

# Waiting OpenMP threads sleep instead of spinning: on a 2-core machine shared with other work a
# spinning thread burns the time slice its partner needs (must be set before torch loads libgomp).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from codiff_tiny import CURRENT_RUN, CodiffTiny, Config, restore_image  # noqa: E402
from data import Batches, load_pool, validation_set, whole_validation_set  # noqa: E402

VAL_QUALITIES = [1, 3, 5, 10, 20, 30, 40, 60, 80]
WHOLE_VAL_QUALITIES = [1, 5, 10, 20, 40]
MSE_SCALE = 0.04  # `--loss mse`: twice the L1 loss the generator sits at late in training (about 0.02)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="/work/shared/data/train")
    p.add_argument("--run-dir", default=str(CURRENT_RUN))
    p.add_argument("--cave-seconds", type=float, default=2400.0, help="training time spent on CaVE alone")
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--val-crop", type=int, default=128, help="fixed, so validation stays comparable across runs")
    p.add_argument("--lr", type=float, default=4e-4)
    p.add_argument("--quality-weight", type=float, default=2.0)
    p.add_argument("--grey-prob", type=float, default=0.15)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--val-every-s", type=float, default=600.0)
    p.add_argument("--whole-val-every-s", type=float, default=1800.0,
                   help="validation of the moving average on the held-out images whole (0 = never)")
    p.add_argument("--ckpt-every-s", type=float, default=300.0)
    p.add_argument("--max-hours", type=float, default=0.0, help="stop after this many hours of this process (0 = never)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--extra-low-quality", type=float, default=0.0,
                   help="share of the training pairs drawn from QF 1..10 before the usual quality draw (0 = none)")
    p.add_argument("--loss", choices=["l1", "mse-sample", "mse"], default="l1",
                   help="generator loss, for a late fine-tune toward PSNR: l1; mse-sample: each sample's squared "
                        "error over twice its mean absolute error (each sample keeps the weight L1 gave it); mse: "
                        "squared error over a constant (heavily compressed samples, with larger errors, weigh more)")
    p.add_argument("--ema-decay", type=float, default=0.9995,
                   help="per-step decay of the weights' exponential moving average (0.9995: about 2,000 steps)")
    p.add_argument("--extra", default=None,
                   help='JSON for Config.extra of a new run (e.g. \'{"refine": [2, 24, 3], "dec_blocks": 1}\'); '
                        "a resumed run keeps its own")
    p.add_argument("--change", default="", help="what a warm start changes and why (recorded in its log line)")
    p.add_argument("--init-from", default=None,
                   help="weights.pt of another run: a new run starts from it (CaVE and every generator layer whose "
                        "shape matches; new layers keep their init) in the generator phase")
    return p.parse_args(argv)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def lr_at(base: float, phase_step: int, anneal: float | None = None) -> float:
    """Warm-up, then constant with step halvings; `anneal` in 0..1 (CaVE phase: the fraction of its time
    used) applies a cosine decay to a tenth, so CaVE ends its phase annealed before it is frozen."""
    warm = min(1.0, (phase_step + 1) / 100.0)
    if anneal is not None:
        return base * warm * (0.1 + 0.45 * (1 + math.cos(math.pi * min(anneal, 1.0))))
    decay = 0.5 ** (phase_step // 20000)  # halve every 20k steps of a phase (val gain flattens by then)
    return base * warm * max(decay, 1 / 16)


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    mse = ((a - b) ** 2).mean(dim=(1, 2, 3)).clamp_min(1e-10)
    return 10 * torch.log10(1.0 / mse)


@torch.no_grad()
def validate(model: CodiffTiny, val: dict, device) -> dict:
    model.eval()
    out = {}
    for q, (clean, jpg, tables) in val.items():
        c, j = torch.from_numpy(clean).to(device), torch.from_numpy(jpg).to(device)
        tokens, qp = model.cave(j)
        out[f"cave_mae_q{q}"] = round(float((qp[:, 0] - q).abs().mean()), 3)
        if q <= 40:
            qt = torch.from_numpy(tables).to(device) if model.takes_tables else None
            r = model.gen(j, tokens, qt).clamp(0, 1)
            out[f"psnr_jpeg_q{q}"] = round(float(psnr(j, c).mean()), 3)
            out[f"psnr_gain_q{q}"] = round(float((psnr(r, c) - psnr(j, c)).mean()), 3)
    model.train()
    return out


@torch.no_grad()
def validate_whole(model: CodiffTiny, whole: dict, device) -> dict:
    """Mean RGB PSNR gain per quality on whole held-out images: what a benchmark photo gets (a 128-px crop's
    validation misses the context a whole image gives the UNet's deeper levels)."""
    model.eval()
    out = {}
    for q, items in whole.items():
        gains = []
        for clean, jpg, tables in items:
            c, j = torch.from_numpy(clean).to(device), torch.from_numpy(jpg).to(device)
            qt = torch.from_numpy(tables).to(device) if model.takes_tables else None
            r = (restore_image(model, j, qt) * 255.0).round().clamp(0, 255) / 255.0  # 8-bit, as shipped
            gains.append(float(psnr(r, c) - psnr(j, c)))
        out[f"whole_gain_q{q}"] = round(float(np.mean(gains)), 3)
    model.train()
    return out


def run_config(args, st: dict | None, path: Path | None) -> Config:
    """A run keeps the config it was started with (checkpoint `st`, read from `path`); --extra only shapes
    a new run, which without it takes the config of the weights it starts from (--init-from), if any."""
    requested = json.loads(args.extra) if args.extra is not None else None
    if st is None:
        if requested is None and args.init_from:
            init = torch.load(args.init_from, map_location="cpu")
            if "config" in init:
                return Config.from_dict(init["config"])
        return Config(extra=requested or {})
    # Checkpoints from before configs were saved in them all had the default config.
    saved = Config.from_dict(st["config"]) if "config" in st else Config()
    if requested is not None and saved.extra != requested:
        raise SystemExit(f"{path} was trained with extra={saved.extra}: use a new --run-dir")
    return saved


def grown(new: torch.Tensor, old: torch.Tensor) -> torch.Tensor | None:
    """A wider layer that computes what the narrower one did: `old` in the leading slice, the new outputs
    keep their init, and the old outputs ignore the new inputs (zero), so the function is unchanged until
    training moves it. None when `new` is not a widening of `old`."""
    if new.dim() != old.dim() or any(n < o for n, o in zip(new.shape, old.shape)):
        return None
    out = new.clone()
    if out.dim() >= 2:
        out[: old.shape[0], old.shape[1] :] = 0.0
    out[tuple(slice(0, d) for d in old.shape)] = old
    return out


def warm_start(model: CodiffTiny, init: Path) -> tuple[dict, dict, dict]:
    """Load CaVE and every generator tensor whose shape matches, widen the ones that grew (`grown`), and
    start brand-new residual convs of the refinement near zero (near the identity); continue in the
    generator phase with a fresh phase step (so the learning-rate schedule restarts) and the source's
    step and time counters."""
    st = torch.load(init, map_location="cpu")
    own = model.state_dict()
    matched = {k: v.float() for k, v in st["model"].items() if k in own and own[k].shape == v.shape}
    widened = {}
    for k, v in st["model"].items():
        if k in own and k not in matched and (g := grown(own[k], v.float())) is not None:
            widened[k] = g
    missing = [k for k in own if k not in matched and k not in widened]
    if any(k.startswith("cave.") for k in missing + list(widened)):
        raise SystemExit(f"--init-from: CaVE differs ({[k for k in missing if k.startswith('cave.')][:3]})")
    near_zero = {k: own[k] * 0.05 for k in missing if ".refine.body." in k and k.endswith(".weight")}
    model.load_state_dict({**matched, **widened, **near_zero}, strict=False)
    progress = dict(st["progress"], phase="gen", phase_step=0)
    dropped = sorted({k.rsplit(".", 1)[0] for k in st["model"] if k not in matched and k not in widened})
    info = {"event": "warm_start", "step": progress["step"], "from": str(init), "new_tensors": missing,
            "widened_tensors": sorted(widened), "removed_tensors": dropped}
    return progress, {k: st[k] for k in ("quality_refine",) if k in st}, info


def save_atomic(obj, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def half_weights(state: dict, buffers: set) -> dict:
    """fp16 copies for the committed weights.pt, except `buffers` (fixed constants such as the DCT basis)."""
    return {k: v if k in buffers else v.half() for k, v in state.items()}


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    run = Path(args.run_dir)
    (run / "scratch").mkdir(parents=True, exist_ok=True)
    state_path, weights_path, log_path = run / "scratch/state.pt", run / "weights.pt", run / "log.jsonl"

    # The full state (with the optimizer), else the committed weights (e.g. a fresh clone), else a new run.
    ckpt_path = next((p for p in (state_path, weights_path) if p.exists()), None)
    st = torch.load(ckpt_path, map_location="cpu") if ckpt_path is not None else None
    cfg = run_config(args, st, ckpt_path)
    progress = {"phase": "cave", "step": 0, "phase_step": 0, "train_s": 0.0, "cave_train_s": 0.0}
    opt_state, extra, warm_info = None, {}, None
    if st is None:
        torch.manual_seed(args.seed)
        model = CodiffTiny(cfg).to(device)
        if args.init_from:
            progress, extra, warm_info = warm_start(model, Path(args.init_from))
            warm_info = {**warm_info, "change": args.change, "via": "no trial"}
    else:
        model = CodiffTiny(cfg).to(device)
        model.load_state_dict({k: v.float() for k, v in st["model"].items()})  # weights.pt holds fp16
        extra = {k: st[k] for k in ("quality_refine",) if k in st}  # refine_quality.py's progress
        progress = st["progress"]
        if ckpt_path == state_path:
            opt_state = st["opt"]
            random.setstate(st["py_rng"])
            torch.set_rng_state(st["torch_rng"])

    pool = load_pool(args.data, run / "scratch/pool.npz", min_side=args.crop + 16)
    held = [im for i, im in enumerate(pool) if i % 40 == 7]
    train_imgs = [im for i, im in enumerate(pool) if i % 40 != 7]
    val = validation_set(held, args.val_crop, VAL_QUALITIES, per_q=16, seed=123)
    whole_val = whole_validation_set(held, WHOLE_VAL_QUALITIES) if args.whole_val_every_s > 0 else {}
    train_imgs = [im for im in train_imgs if min(im.shape[:2]) >= args.crop + 16]
    batches = Batches(train_imgs, args.crop, args.batch, args.grey_prob, seed=args.seed + progress["step"],
                      extra_low=args.extra_low_quality)

    def make_opt(phase):
        params = (list(model.cave.parameters()) + list(model.cave_decoder.parameters())
                  if phase == "cave" else list(model.gen.parameters()))
        return torch.optim.Adam(params, lr=args.lr)

    # The moving average starts from the weights it is first given (a resumed run without one starts it
    # from its current weights); its decay ramps up over its first steps so that start fades quickly.
    ema = copy.deepcopy(model).eval()
    for p_ in ema.parameters():
        p_.requires_grad_(False)
    if st is not None and "ema" in st:
        ema.load_state_dict({k: v.float() for k, v in st["ema"].items()})
    progress.setdefault("ema_steps", 0)

    def ema_update():
        n = progress["ema_steps"]
        d = min(args.ema_decay, (1 + n) / (10 + n))
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.lerp_(pm, 1.0 - d)
        progress["ema_steps"] = n + 1

    opt = make_opt(progress["phase"])
    if opt_state is not None and opt_state.get("phase") == progress["phase"]:
        opt.load_state_dict(opt_state["state"])

    def log(rec):
        rec = {"time": now_iso(), **rec}
        with open(log_path, "a") as f:
            f.write(json.dumps(rec) + "\n")
        print(json.dumps(rec), flush=True)

    def checkpoint():
        save_atomic({"model": model.state_dict(), "progress": progress, "config": cfg.to_dict(),
                     "opt": {"phase": progress["phase"], "state": opt.state_dict()},
                     "ema": ema.state_dict(),
                     "py_rng": random.getstate(), "torch_rng": torch.get_rng_state(), **extra}, state_path)
        buffers = {k for k, _ in model.named_buffers()}
        save_atomic({"model": half_weights(model.state_dict(), buffers), "ema": half_weights(ema.state_dict(), buffers),
                     "progress": progress, "config": cfg.to_dict(), **extra}, weights_path)

    if warm_info:
        log(warm_info)
    log({"event": "start", "device": str(device), "torch": torch.__version__, "threads": args.threads,
         "train_images": len(train_imgs), "heldout_images": len(held), **progress,
         "args": vars(args)})
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))  # checkpoint, then exit
    start = last_ckpt = last_val = time.time()
    last_whole = start - args.whole_val_every_s  # the first check right away: a baseline for this start
    sums, n_sum, t_window = {}, 0, time.time()
    model.train()
    while True:
        if stop["now"] or (args.max_hours and time.time() - start > args.max_hours * 3600):
            break
        if progress["phase"] == "cave" and progress["cave_train_s"] >= args.cave_seconds:
            log({"event": "phase_end", "phase": "cave", **validate(model, val, device), **progress})
            progress["phase"], progress["phase_step"] = "gen", 0
            opt = make_opt("gen")
        t0 = time.time()
        clean_np, jpg_np, q_np, qt_np = batches.next()
        clean, jpg = torch.from_numpy(clean_np).to(device), torch.from_numpy(jpg_np).to(device)
        q = torch.from_numpy(q_np).to(device)
        anneal = progress["cave_train_s"] / args.cave_seconds if progress["phase"] == "cave" else None
        lr = lr_at(args.lr, progress["phase_step"], anneal)
        for g in opt.param_groups:
            g["lr"] = lr
        if progress["phase"] == "cave":
            f8, f32, blocks = model.cave.features(jpg)
            qp = model.cave.quality(f32, blocks, jpg)[:, 0]
            rec = model.cave_decoder(jpg, f8, f32)
            l_rec = (rec - clean).abs().mean()
            l_q = ((qp - q).abs() / 100.0).mean()
            loss = l_rec + args.quality_weight * l_q
            parts = {"l_rec": float(l_rec), "l_q_mae": float(l_q) * 100}
        else:
            with torch.no_grad():
                tokens, _ = model.cave(jpg)
            out = model.gen(jpg, tokens, torch.from_numpy(qt_np).to(device) if model.takes_tables else None)
            err = out - clean
            l1 = err.abs().mean()
            parts = {"l1": float(l1)}
            if args.loss != "l1":
                # Squared error weighs pixels by their error, as PSNR does. Scaled so that its gradient has
                # the size L1's had (the optimizer's state carries over): per sample by twice its own mean
                # absolute error (held constant), or by a constant twice the L1 these runs sit at.
                sq = (err**2).mean(dim=(1, 2, 3))
                if args.loss == "mse-sample":
                    scale = 2 * err.detach().abs().mean(dim=(1, 2, 3)).clamp_min(1e-6)
                else:
                    scale = MSE_SCALE
                loss = (sq / scale).mean()
                parts["mse"] = float(sq.mean())
            else:
                loss = l1
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for g in opt.param_groups for p in g["params"]], 1.0)
        opt.step()
        ema_update()
        dt = time.time() - t0
        progress["step"] += 1
        progress["phase_step"] += 1
        progress["train_s"] += dt
        if progress["phase"] == "cave":
            progress["cave_train_s"] += dt
        for k, v in parts.items():
            sums[k] = sums.get(k, 0.0) + v
        n_sum += 1
        if progress["step"] % args.log_every == 0:
            its = n_sum / max(time.time() - t_window, 1e-6)
            log({"event": "train", **progress, "lr": lr, "it_s": round(its, 3),
                 **{k: round(v / n_sum, 5) for k, v in sums.items()}})
            sums, n_sum, t_window = {}, 0, time.time()
        if time.time() - last_val > args.val_every_s:
            ema_val = {f"ema_{k}": v for k, v in validate(ema, val, device).items() if "psnr_gain" in k}
            log({"event": "val", **progress, **validate(model, val, device), **ema_val})
            last_val = time.time()
        if whole_val and progress["phase"] == "gen" and time.time() - last_whole > args.whole_val_every_s:
            t_w = time.time()
            log({"event": "val_whole", "weights": "ema", **progress, **validate_whole(ema, whole_val, device),
                 "seconds": round(time.time() - t_w, 1)})
            last_whole = time.time()
        if time.time() - last_ckpt > args.ckpt_every_s:
            checkpoint()
            last_ckpt = time.time()
            if not math.isfinite(float(loss)):
                raise SystemExit("loss is not finite")
    checkpoint()
    log({"event": "stop", **progress})
    return 0


if __name__ == "__main__":
    sys.exit(main())
