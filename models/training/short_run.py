#!/usr/bin/python3
"""A short training run from the current checkpoint on a subset of the pool, for a lent GPU.

A lent GPU machine comes with ~15 minutes and a 64 MiB transfer: too little for the whole pool (97 MB)
or a long run. This script (1) copies the first images of the pool (sorted by path, so the subset is the
same every time) into `--subset-dir` until `--subset-mb` is reached, (2) copies the current run's
checkpoint (the full state when present, else the committed weights) and log into a new run folder, so
the main run is never touched, and (3) trains there for `--minutes` with train.py, unchanged (CUDA when
torch sees one, else CPU). Validation in that log uses held-out crops of the subset, so its figures are
comparable within the short run, not with the main run's.

    /usr/bin/python3 models/training/short_run.py --subset-only            # here: make the subset
    python3 models/training/short_run.py --minutes 8 --out "$OUT"           # there: train, copy back

Bring the result home by copying `weights.pt` and `log.jsonl` from `--out` into a run folder (or give it
to export_tiny.py --weights directly).
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from codiff_tiny import CURRENT_RUN  # noqa: E402
from data import list_images  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="/work/shared/data/train", help="the whole training pool")
    p.add_argument("--subset-dir", default=str(HERE / "subset"), help="where the subset is (or goes)")
    p.add_argument("--subset-mb", type=float, default=48.0, help="the subset's size on disk")
    p.add_argument("--subset-only", action="store_true", help="make the subset and stop")
    p.add_argument("--from-run", default=str(CURRENT_RUN), help="the run to start from (not modified)")
    p.add_argument("--run-dir", default=None, help="the short run's folder (default: FROM-RUN-short)")
    p.add_argument("--minutes", type=float, default=8.0)
    p.add_argument("--batch", type=int, default=32, help="a GPU takes more than the CPU run's 8")
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--crop", type=int, default=256, help="the main run's crop since step 146,505")
    p.add_argument("--loss", default="mse", help="train.py --loss: the main run's since step 173,812")
    p.add_argument("--out", default=None, help="copy weights.pt and log.jsonl here at the end")
    return p.parse_args(argv)


def make_subset(data: Path, dest: Path, budget_bytes: float) -> tuple[int, int]:
    """Copies images (sorted by path) into dest while they fit the budget; keeps an existing subset."""
    existing = list_images(dest) if dest.exists() else []
    if existing:
        return len(existing), sum(p.stat().st_size for p in existing)
    dest.mkdir(parents=True, exist_ok=True)
    count = total = 0
    for path in list_images(data):
        size = path.stat().st_size
        if total + size > budget_bytes:
            continue
        target = dest / path.relative_to(data)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        count, total = count + 1, total + size
    return count, total


def seed_run(source: Path, run: Path) -> Path:
    """A new run folder holding the source run's checkpoint, so train.py resumes from it."""
    if (run / "weights.pt").exists():
        return run  # an earlier short run: resume it
    (run / "scratch").mkdir(parents=True, exist_ok=True)
    state = source / "scratch/state.pt"
    if state.exists():
        shutil.copyfile(state, run / "scratch/state.pt")
    shutil.copyfile(source / "weights.pt", run / "weights.pt")
    if (source / "log.jsonl").exists():
        shutil.copyfile(source / "log.jsonl", run / "log.jsonl")
    return run


def main(argv=None) -> int:
    args = parse_args(argv)
    subset = Path(args.subset_dir)
    count, total = make_subset(Path(args.data), subset, args.subset_mb * 2**20)
    print(f"subset: {count} images, {total / 2**20:.1f} MiB in {subset}", flush=True)
    if args.subset_only:
        return 0
    if count == 0:
        print("no images in the subset", file=sys.stderr)
        return 1
    source = Path(args.from_run)
    run = seed_run(source, Path(args.run_dir or f"{source}-short"))
    cmd = [sys.executable, str(HERE / "train.py"), "--data", str(subset), "--run-dir", str(run),
           "--batch", str(args.batch), "--lr", str(args.lr), "--max-hours", str(args.minutes / 60),
           "--crop", str(args.crop), "--loss", args.loss,
           "--ckpt-every-s", "60", "--val-every-s", str(max(60.0, args.minutes * 60 / 3))]
    print(" ".join(cmd), flush=True)
    code = subprocess.call(cmd)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        for name in ("weights.pt", "log.jsonl"):
            if (run / name).exists():
                shutil.copyfile(run / name, out / name)
    return code


if __name__ == "__main__":
    sys.exit(main())
