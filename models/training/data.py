"""Training data: the training pool decoded once into memory, crops JPEG-compressed on the fly.

Compression uses PIL (libjpeg, standard IJG tables scaled by quality, 4:2:0 for colour), the same
protocol as the benchmark. The block grid is anchored at each crop's origin exactly as it is at an
image's origin at inference; a random 0..7 px shift of the content before compression varies what
falls on block boundaries.
"""

from __future__ import annotations

import io
import os
import random
from pathlib import Path

import numpy as np
from PIL import Image

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}


def list_images(root: str | Path) -> list[Path]:
    return sorted(p for p in Path(root).rglob("*") if p.suffix.lower() in IMAGE_EXTS)


def load_rgb(path: str | Path) -> np.ndarray:
    """uint8 HxWx3 (grey images are replicated to three channels)."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def load_pool(root: str | Path, cache: str | Path | None, min_side: int) -> list[np.ndarray]:
    """Decode every image once; keep a .npz cache so restarts cost little CPU."""
    if cache and os.path.exists(cache):
        with np.load(cache) as z:
            return [z[k] for k in sorted(z.files, key=lambda s: int(s.split("_")[1]))]
    imgs = [load_rgb(p) for p in list_images(root)]
    imgs = [im for im in imgs if min(im.shape[:2]) >= min_side]
    if cache:
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        tmp = f"{cache}.tmp.npz"
        np.savez(tmp, **{f"img_{i}": im for i, im in enumerate(imgs)})
        os.replace(tmp, cache)
    return imgs


def jpeg_roundtrip(rgb: np.ndarray, quality: int, grey: bool) -> np.ndarray:
    """Compress with libjpeg standard tables (4:2:0 for colour) and decode; uint8 HxWx3."""
    buf = io.BytesIO()
    if grey:
        Image.fromarray(rgb).convert("L").save(buf, "JPEG", quality=quality)
    else:
        Image.fromarray(rgb).save(buf, "JPEG", quality=quality, subsampling=2)
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("RGB"))


def sample_quality(rng: random.Random) -> int:
    """5..95, weighted towards heavy compression: 75 % in 5..50, 25 % in 51..95."""
    return rng.randint(5, 50) if rng.random() < 0.75 else rng.randint(51, 95)


def make_pair(img: np.ndarray, size: int, quality: int, grey: bool, rng: random.Random):
    """(clean, jpeg) uint8 size x size x 3 crops; grey pairs have a grey target too."""
    h, w = img.shape[:2]
    shift_y, shift_x = rng.randint(0, 7), rng.randint(0, 7)
    y = rng.randint(0, h - size - 8)
    x = rng.randint(0, w - size - 8)
    clean = img[y + shift_y : y + shift_y + size, x + shift_x : x + shift_x + size]
    if rng.random() < 0.5:
        clean = clean[:, ::-1]
    k = rng.randint(0, 3)
    clean = np.ascontiguousarray(np.rot90(clean, k))
    if grey:
        g = np.asarray(Image.fromarray(clean).convert("L"))
        clean = np.repeat(g[..., None], 3, axis=2)
    return clean, jpeg_roundtrip(clean, quality, grey)


class Batches:
    """Random training batches: float32 NCHW in [0, 1] plus the qualities used."""

    def __init__(self, images: list[np.ndarray], size: int, batch: int, grey_prob: float, seed: int):
        self.images = images
        self.size, self.batch, self.grey_prob = size, batch, grey_prob
        # Sample images in proportion to sqrt(area) so big photos are not drowned by small ones
        # nor dominate them.
        weights = np.sqrt(np.array([im.shape[0] * im.shape[1] for im in images], dtype=np.float64))
        self.weights = (weights / weights.sum()).tolist()
        self.rng = random.Random(seed)

    def next(self):
        cleans, jpegs, qs = [], [], []
        for _ in range(self.batch):
            img = self.rng.choices(self.images, self.weights)[0]
            q = sample_quality(self.rng)
            clean, jpg = make_pair(img, self.size, q, self.rng.random() < self.grey_prob, self.rng)
            cleans.append(clean)
            jpegs.append(jpg)
            qs.append(q)
        to_t = lambda a: np.stack(a).astype(np.float32).transpose(0, 3, 1, 2) / 255.0  # noqa: E731
        return to_t(cleans), to_t(jpegs), np.array(qs, dtype=np.float32)


def validation_set(images: list[np.ndarray], size: int, qualities: list[int], per_q: int, seed: int):
    """Fixed crops of held-out training-pool images (never the benchmark): {q: (clean, jpeg)}."""
    rng = random.Random(seed)
    out = {}
    for q in qualities:
        cleans, jpegs = [], []
        for i in range(per_q):
            img = images[i % len(images)]
            clean, jpg = make_pair(img, size, q, grey=False, rng=rng)
            cleans.append(clean)
            jpegs.append(jpg)
        to_t = lambda a: np.stack(a).astype(np.float32).transpose(0, 3, 1, 2) / 255.0  # noqa: E731
        out[q] = (to_t(cleans), to_t(jpegs))
    return out
