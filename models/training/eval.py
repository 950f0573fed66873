"""Evaluate a compact-CODiff checkpoint on a benchmark set, the field's protocol.

Each ground-truth image is compressed with PIL (libjpeg standard tables) at each quality, 4:2:0 for
colour, decoded, restored whole (padded to padMultiple, cropped back), rounded to 8 bits, and compared
with the ground truth: PSNR on RGB and on Y (BT.601, 16..235), SSIM on Y (Gaussian 11x11, sigma 1.5),
PSNR-B on Y (Yim & Bovik 2011, blocking effect factor of the tested image). Also CaVE's quality MAE.

  /usr/bin/python3 models/training/eval.py --set /work/shared/data/bench/LIVE1 --qualities 5,10,20,30,40 [--json OUT]
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from codiff_tiny import CURRENT_RUN, CodiffTiny, load_checkpoint, pad_to_multiple, restore_image  # noqa: E402
from data import benchmark_jpeg, list_images  # noqa: E402


def to_y(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma on 16..235 from uint8-range RGB (MATLAB rgb2ycbcr), float64."""
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    return 16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * math.log10(255.0**2 / mse)


def _gauss_valid(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Separable 'valid' filtering with a 1-D kernel along both axes."""
    n = len(g)
    rows = sum(g[k] * x[k : x.shape[0] - n + 1 + k, :] for k in range(n))
    return sum(g[k] * rows[:, k : rows.shape[1] - n + 1 + k] for k in range(n))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Wang et al. 2004 on one channel in 0..255, valid-region Gaussian filtering (11, sigma 1.5)."""
    g = np.exp(-((np.arange(11) - 5) ** 2) / (2 * 1.5**2))
    g = g / g.sum()
    x, y = a.astype(np.float64), b.astype(np.float64)
    f = lambda t: _gauss_valid(t, g)  # noqa: E731
    mx, my = f(x), f(y)
    sxx, syy, sxy = f(x * x) - mx**2, f(y * y) - my**2, f(x * y) - mx * my
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    m = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx**2 + my**2 + c1) * (sxx + syy + c2))
    return float(m.mean())


def psnr_b(gt: np.ndarray, test: np.ndarray) -> float:
    """PSNR-B on one channel in 0..255: MSE plus the blocking effect factor of the tested image."""
    im = test.astype(np.float64) / 255.0
    h, w = im.shape
    bh = np.arange(7, w - 1, 8)
    bv = np.arange(7, h - 1, 8)
    nbh = np.setdiff1d(np.arange(0, w - 1), bh)
    nbv = np.setdiff1d(np.arange(0, h - 1), bv)
    d_bh = ((im[:, bh] - im[:, bh + 1]) ** 2).sum()
    d_bv = ((im[bv, :] - im[bv + 1, :]) ** 2).sum()
    d_nh = ((im[:, nbh] - im[:, nbh + 1]) ** 2).sum()
    d_nv = ((im[nbv, :] - im[nbv + 1, :]) ** 2).sum()
    n_bh, n_bv = h * (w // 8 - 1), w * (h // 8 - 1)
    n_nh, n_nv = h * (w - 1) - n_bh, w * (h - 1) - n_bv
    boundary = (d_bh + d_bv) / (n_bh + n_bv)
    nonboundary = (d_nh + d_nv) / (n_nh + n_nv)
    bef = max(0.0, math.log2(8) / math.log2(min(h, w)) * (boundary - nonboundary))
    mse = np.mean((gt.astype(np.float64) / 255.0 - im) ** 2) + bef
    return 10 * math.log10(1.0 / mse)


def metrics(gt: np.ndarray, test: np.ndarray) -> dict:
    gy, ty = to_y(gt), to_y(test)
    return {"psnr_rgb": psnr(gt, test), "psnr_y": psnr(gy, ty), "ssim_y": ssim(gy, ty), "psnrb_y": psnr_b(gy, ty)}


def compressed(path: Path, q: int) -> tuple[np.ndarray, np.ndarray, torch.Tensor, torch.Tensor]:
    """(ground truth, its JPEG at q, the JPEG as a [1, 3, H, W] tensor in 0..1, its tables [1, 2, 64]);
    grey stays grey."""
    with Image.open(path) as im:
        grey = im.mode in ("L", "LA", "I;16")
        gt = np.asarray(im.convert("RGB"))
    jp, tables = benchmark_jpeg(gt, q, grey)
    return gt, jp, torch.from_numpy(jp.astype(np.float32).transpose(2, 0, 1) / 255.0)[None], torch.from_numpy(tables)[None]


@torch.no_grad()
def evaluate(model: CodiffTiny, files: list[Path], qualities: list[int]) -> dict:
    per_q = {}
    for q in qualities:
        rows = []
        for path in files:
            gt, jp, x, qt = compressed(path, q)
            _, qp = model.cave(pad_to_multiple(x, model.cfg.pad_multiple))
            out = restore_image(model, x, qt)[0].numpy().transpose(1, 2, 0)
            out = np.clip(np.round(out * 255.0), 0, 255).astype(np.uint8)
            mj, mr = metrics(gt, jp), metrics(gt, out)
            rows.append({"image": path.name, "jpeg": mj, "restored": mr, "cave_quality": float(qp[0, 0])})
        mean = lambda key, m: float(np.mean([r[key][m] for r in rows]))  # noqa: E731
        gains = [r["restored"]["psnr_rgb"] - r["jpeg"]["psnr_rgb"] for r in rows]
        per_q[q] = {
            "jpeg": {m: round(mean("jpeg", m), 4) for m in rows[0]["jpeg"]},
            "restored": {m: round(mean("restored", m), 4) for m in rows[0]["restored"]},
            "gain_psnr_rgb": round(float(np.mean(gains)), 4),
            "min_image_gain_psnr_rgb": round(float(np.min(gains)), 4),
            "images_worse_rgb": int(sum(g < 0 for g in gains)),
            "cave_mae": round(float(np.mean([abs(r["cave_quality"] - q) for r in rows])), 3),
            "images": rows,
        }
    return per_q


@torch.no_grad()
def cave_mae(model: CodiffTiny, files: list[Path], qualities: list[int]) -> dict:
    """CaVE's quality estimate only (no restoration): mean absolute error per quality."""
    out = {}
    for q in qualities:
        errs = []
        for path in files:
            x = compressed(path, q)[2]
            errs.append(abs(float(model.cave(pad_to_multiple(x, model.cfg.pad_multiple))[1][0, 0]) - q))
        out[q] = round(float(np.mean(errs)), 3)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default=str(CURRENT_RUN / "weights.pt"))
    p.add_argument("--ema", action="store_true", help="the weights' moving average (train.py keeps it) instead of the raw weights")
    p.add_argument("--set", default="/work/shared/data/bench/LIVE1")
    p.add_argument("--qualities", default="5,10,20,30,40")
    p.add_argument("--cave-qualities", default="5,10,15,20,30,40,50,60,70,80,90",
                   help="qualities at which only CaVE's estimate is checked")
    p.add_argument("--limit", type=int, default=0, help="only the first N images (0 = all)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", default="", help="write the full results (per image too) to this file")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    model, progress = load_checkpoint(args.weights, ema=args.ema)
    files = list_images(args.set)[: args.limit or None]
    qualities = [int(s) for s in args.qualities.split(",")]
    t0 = time.time()
    res = evaluate(model, files, qualities)
    print(f"set {args.set} ({len(files)} images), weights {args.weights} step {progress.get('step')}")
    print("QF | JPEG PSNR RGB / Y / SSIM-Y / PSNR-B-Y | restored PSNR RGB / Y / SSIM-Y / PSNR-B-Y | gain RGB (min) | worse | CaVE MAE")
    for q, r in res.items():
        j, o = r["jpeg"], r["restored"]
        print(f"{q:2d} | {j['psnr_rgb']:.2f} / {j['psnr_y']:.2f} / {j['ssim_y']:.4f} / {j['psnrb_y']:.2f} | "
              f"{o['psnr_rgb']:.2f} / {o['psnr_y']:.2f} / {o['ssim_y']:.4f} / {o['psnrb_y']:.2f} | "
              f"{r['gain_psnr_rgb']:+.3f} ({r['min_image_gain_psnr_rgb']:+.3f}) | {r['images_worse_rgb']} | {r['cave_mae']:.2f}")
    cq = cave_mae(model, files, [int(s) for s in args.cave_qualities.split(",") if s])
    print("CaVE quality MAE per QF: " + ", ".join(f"{q}: {v:.1f}" for q, v in cq.items()))
    print(f"elapsed {time.time() - t0:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps({"set": args.set, "images": len(files), "progress": progress,
                                               "results": res, "cave_mae": cq}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
