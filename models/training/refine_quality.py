"""Second CaVE phase: retrain only the quality head (qbody + qmlp) on crops of many sizes.

Why: the first CaVE phase saw 128-px crops only, where every x32 feature touches a border; on whole
photos the pooled features differ and the head over-estimated low qualities (LIVE1 QF5 read as ~18).
Everything the generator depends on (features, token projection, quality embedding) stays frozen; only
the predicted quality, and so the quality embedding added to the tokens, moves towards the truth.

  /usr/bin/python3 models/training/refine_quality.py [--seconds 1200]

Reads and writes the run's scratch/state.pt and weights.pt (the generator's optimizer state is kept),
and appends "quality_refine" lines to log.jsonl. Rerunning continues from the refined head.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from codiff_tiny import CURRENT_RUN, CodiffTiny, Config, pad_to_multiple  # noqa: E402
from data import benchmark_jpeg, decode_rgb, ijg_tables, jpeg_bytes, load_pool  # noqa: E402
from train import half_weights, now_iso, save_atomic  # noqa: E402

SIZES = [96, 128, 160, 224, 256, 320, 384, 448, 512]  # some not multiples of 32: padded like the runtime
VAL_QUALITIES = [1, 2, 3, 4, 5, 10, 15, 20, 30, 40, 50, 60, 80]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="/work/shared/data/train")
    p.add_argument("--run-dir", default=str(CURRENT_RUN))
    p.add_argument("--seconds", type=float, default=1200.0)
    p.add_argument("--pixels", type=int, default=4 * 256 * 256, help="pixels per batch (batch = pixels / size^2)")
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=7)
    return p.parse_args(argv)


def sample_quality(rng: random.Random) -> int:
    """1..95 with most weight on 1..60, where the target error bound applies (1..4 get a share of their
    own: they were never seen before the second run of this phase)."""
    r = rng.random()
    return rng.randint(1, 4) if r < 0.15 else rng.randint(5, 60) if r < 0.85 else rng.randint(61, 95)


def compress(rgb: np.ndarray, q: int, grey: bool, rng: random.Random) -> np.ndarray:
    """IJG tables at q (16-bit 30 % of the time, which differs from 8-bit below about QF 25), 4:2:0 or
    4:4:4 (20 %) colour, or grey."""
    tables = ijg_tables(q, baseline=rng.random() >= 0.3)
    return decode_rgb(jpeg_bytes(rgb, tables, "grey" if grey else "4:4:4" if rng.random() < 0.2 else "4:2:0"))


def crop(img: np.ndarray, h: int, w: int, rng: random.Random) -> np.ndarray:
    y = rng.randint(0, img.shape[0] - h)
    x = rng.randint(0, img.shape[1] - w)
    out = img[y : y + h, x : x + w]
    return np.ascontiguousarray(out[:, ::-1] if rng.random() < 0.5 else out)


def to_tensor(batch: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(batch).astype(np.float32).transpose(0, 3, 1, 2) / 255.0)


def predict(model: CodiffTiny, jpg: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        f8, f32, blocks = model.cave.features(jpg)
    return model.cave.quality(f32, blocks, jpg)[:, 0]


@torch.no_grad()
def validate(model: CodiffTiny, held: list[np.ndarray]) -> dict:
    """MAE per quality on whole held-out pool images (at most 768 px a side), padded like the runtime."""
    out = {}
    for q in VAL_QUALITIES:
        errs = []
        for img in held:
            j, _ = benchmark_jpeg(np.ascontiguousarray(img[:768, :768]), q, grey=False)
            errs.append(abs(float(predict(model, pad_to_multiple(to_tensor([j]), 32))[0]) - q))
        out[f"cave_mae_q{q}"] = round(float(np.mean(errs)), 3)
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    rng = random.Random(args.seed)
    run = Path(args.run_dir)
    state_path, weights_path, log_path = run / "scratch/state.pt", run / "weights.pt", run / "log.jsonl"
    st = torch.load(state_path, map_location="cpu")
    cfg = Config.from_dict(st["config"]) if "config" in st else Config()  # older state.pt files had none
    model = CodiffTiny(cfg)
    own = model.state_dict()
    # A head whose input features changed starts afresh (only qmlp's first layer can differ in shape).
    fresh = [k for k, v in st["model"].items() if k in own and own[k].shape != v.shape]
    model.load_state_dict({k: v for k, v in st["model"].items() if k not in fresh}, strict=False)
    missing = set(own) - set(st["model"]) - {k for k, _ in model.named_buffers()}
    if missing:
        raise SystemExit(f"checkpoint lacks {sorted(missing)}")
    model.eval()  # no dropout/batch statistics anywhere; eval() just documents intent
    head = list(model.cave.qbody.parameters()) + list(model.cave.qmlp.parameters())
    for p in model.parameters():
        p.requires_grad_(False)
    for p in head:
        p.requires_grad_(True)
    opt = torch.optim.Adam(head, lr=args.lr)

    pool = load_pool(args.data, run / "scratch/pool.npz", min_side=144)
    held = [im for i, im in enumerate(pool) if i % 40 == 7]  # the same held-out split as train.py
    train_imgs = [im for i, im in enumerate(pool) if i % 40 != 7]

    def log(rec):
        rec = {"time": now_iso(), "event": "quality_refine", **rec}
        with open(log_path, "a") as f:
            f.write(json.dumps(rec) + "\n")
        print(json.dumps(rec), flush=True)

    refine = st.get("quality_refine", {"steps": 0, "seconds": 0.0})
    log({"stage": "start", **refine, "reinitialised": fresh, **validate(model, held)})
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    start, losses = time.time(), []
    while not stop["now"] and time.time() - start < args.seconds:
        t0 = time.time()
        size = rng.choice(SIZES)
        h, w = size, rng.choice(SIZES)
        n = max(1, args.pixels // (h * w))
        cands = [im for im in train_imgs if im.shape[0] >= h and im.shape[1] >= w]
        jpgs, qs = [], []
        for _ in range(n):
            q = sample_quality(rng)
            grey = rng.random() < 0.15
            jpgs.append(compress(crop(rng.choice(cands), h, w, rng), q, grey, rng))
            qs.append(q)
        x = pad_to_multiple(to_tensor(jpgs), cfg.pad_multiple)
        pred = predict(model, x)
        lr = args.lr * (0.1 + 0.9 * max(0.0, 1.0 - (time.time() - start) / args.seconds))  # linear decay
        for g in opt.param_groups:
            g["lr"] = lr
        loss = (pred - torch.tensor(qs, dtype=torch.float32)).abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss))
        refine["steps"] += 1
        refine["seconds"] += time.time() - t0
        if refine["steps"] % 100 == 0:
            log({"stage": "train", **refine, "lr": round(lr, 7), "mae": round(float(np.mean(losses)), 3)})
            losses = []
    model_state = model.state_dict()
    st["model"] = model_state
    st["quality_refine"] = refine
    if "ema" in st:  # train.py's moving average takes the refined head as is (the head is not averaged here)
        st["ema"] = {**st["ema"], **{k: v for k, v in model_state.items() if k.startswith(("cave.qbody.", "cave.qmlp."))}}
    save_atomic(st, state_path)
    buffers = {k for k, _ in model.named_buffers()}
    save_atomic({"model": half_weights(model_state, buffers),
                 **({"ema": half_weights(st["ema"], buffers)} if "ema" in st else {}),
                 "progress": st["progress"], "config": cfg.to_dict(), "quality_refine": refine}, weights_path)
    log({"stage": "end", **refine, **validate(model, held)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
