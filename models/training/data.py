"""Training data: the training pool decoded once into memory, crops JPEG-compressed on the fly.

Compression uses PIL (libjpeg). The benchmark protocol (standard IJG tables scaled by quality, clamped
to 8 bits as libjpeg's `quality` does, 4:2:0 for colour) is `benchmark_jpeg`; training (`sample_compression`)
widens it to what users bring: qualities 1..95 weighted to 1..40, IJG tables clamped to 8 bits or kept
16-bit (what plain `cjpeg` writes at low qualities), non-IJG tables (`synthetic_tables`: flat, ramped and
warped shapes, as cameras and other encoders write), 4:2:0, 4:2:2, 4:4:4 or grey, and files compressed
hard then re-saved at a high quality (`resaved`). Every pair carries
the tables it was compressed with ([2, 64] steps, luma then chroma, natural order; a grey JPEG's chroma
row repeats its luma table, as the runtime feeds it). The block grid is anchored at each crop's origin
exactly as it is at an image's origin at inference; a random 0..7 px shift of the content before
compression varies what falls on block boundaries.
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


# libjpeg's standard tables (JPEG Annex K), natural order.
IJG_LUMA = [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
            14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
            49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99]
IJG_CHROMA = [17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99,
              47, 66, 99, 99, 99, 99, 99, 99] + [99] * 32
SUBSAMPLING = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}


def ijg_table(base: list[int], quality: int, baseline: bool = True) -> list[int]:
    """libjpeg's jpeg_quality_scaling + jpeg_add_quant_table: 8-bit clamp when `baseline`, else 16-bit."""
    q = min(100, max(1, quality))
    scale = 5000 // q if q < 50 else 200 - 2 * q
    top = 255 if baseline else 32767
    return [min(top, max(1, (b * scale + 50) // 100)) for b in base]


def ijg_tables(quality: int, baseline: bool = True) -> list[list[int]]:
    return [ijg_table(IJG_LUMA, quality, baseline), ijg_table(IJG_CHROMA, quality, baseline)]


def _geomean(t: list[int]) -> float:
    return float(np.exp(np.mean(np.log(np.asarray(t, dtype=np.float64)))))


def synthetic_tables(quality: int, rng: random.Random) -> list[list[int]]:
    """Non-IJG tables of about the coarseness of IJG `quality` (geometric mean within ~±25 %): flat, a
    ramp over frequency, or the IJG shape warped (exponent, per-entry noise); chroma coarser or equal.
    8-bit, as such encoders write."""
    u, v = np.meshgrid(np.arange(8), np.arange(8), indexing="ij")
    kind = rng.random()
    if kind < 0.2:
        shape = np.ones((8, 8))
    elif kind < 0.55:
        shape = 1.0 + rng.uniform(0.05, 1.0) * (u + v) ** rng.uniform(0.7, 2.0)
    else:
        base = np.asarray(IJG_LUMA, dtype=np.float64).reshape(8, 8)
        shape = base ** rng.uniform(0.5, 1.3) * np.exp(np.array([rng.gauss(0, 0.15) for _ in range(64)]).reshape(8, 8))
    target = _geomean(ijg_table(IJG_LUMA, quality)) * float(np.exp(rng.gauss(0, 0.2)))
    luma = shape / np.exp(np.mean(np.log(shape))) * target
    chroma = luma * rng.uniform(1.0, 2.0) if rng.random() < 0.7 else luma.copy()
    clip = lambda t: [int(x) for x in np.clip(np.rint(t), 1, 255).reshape(-1)]  # noqa: E731
    return [clip(luma), clip(chroma)]


def jpeg_bytes(rgb: np.ndarray, tables: list[list[int]], sampling: str) -> bytes:
    """Compress with the given tables; sampling is '4:2:0', '4:2:2', '4:4:4' or 'grey'."""
    buf = io.BytesIO()
    if sampling == "grey":
        Image.fromarray(rgb).convert("L").save(buf, "JPEG", qtables=[tables[0]])
    else:
        Image.fromarray(rgb).save(buf, "JPEG", qtables=tables, subsampling=SUBSAMPLING[sampling])
    return buf.getvalue()


def decode_rgb(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def table_input(tables: list[list[int]], sampling: str) -> np.ndarray:
    """The model's `qtables` value [2, 64] float32: a grey JPEG's single table stands for both rows."""
    return np.asarray([tables[0], tables[0] if sampling == "grey" else tables[1]], dtype=np.float32)


def benchmark_compression(quality: int, grey: bool) -> tuple[list[list[int]], str]:
    """The benchmark protocol's tables and sampling: libjpeg standard tables at `quality` (8-bit), 4:2:0
    for colour."""
    return ijg_tables(quality), "grey" if grey else "4:2:0"


def benchmark_jpeg(rgb: np.ndarray, quality: int, grey: bool) -> tuple[np.ndarray, np.ndarray]:
    """The benchmark protocol (PIL/libjpeg): decoded pixels (uint8 HxWx3) and the tables as the model's
    `qtables` value [2, 64]."""
    tables, sampling = benchmark_compression(quality, grey)
    return decode_rgb(jpeg_bytes(rgb, tables, sampling)), table_input(tables, sampling)


def sample_quality(rng: random.Random, extra_low: float = 0.0) -> int:
    """1..95 weighted to heavy compression: 70 % in 1..40, 30 % in 41..95; `extra_low` of the draws taken
    from 1..10 first (a late fine-tune toward the hardest qualities)."""
    if extra_low and rng.random() < extra_low:
        return rng.randint(1, 10)
    return rng.randint(1, 40) if rng.random() < 0.7 else rng.randint(41, 95)


def sample_compression(quality: int, grey: bool, rng: random.Random) -> tuple[list[list[int]], str]:
    """Tables and sampling for one training pair: IJG 8-bit 55 %, IJG 16-bit 15 % (the same as 8-bit
    unless the quality is low enough for steps over 255), non-IJG 30 %; colour 4:2:0 70 %, 4:4:4 22 %,
    4:2:2 8 %."""
    r = rng.random()
    tables = ijg_tables(quality, baseline=r < 0.55) if r < 0.7 else synthetic_tables(quality, rng)
    if grey:
        return tables, "grey"
    s = rng.random()
    return tables, "4:2:0" if s < 0.7 else "4:4:4" if s < 0.92 else "4:2:2"


def resaved(clean: np.ndarray, tables: list[list[int]], sampling: str, rng: random.Random) -> np.ndarray:
    """A re-saved JPEG as the runtime hands it to the model: compressed with `tables`, cropped by 0..7 px at
    the top and left (aligned 40 % of the time), saved again at IJG quality 75..98 (4:2:0 or 4:4:4), and
    padded back (edge) by the crop, so that the earlier, harder compression's block grid is the model's
    grid, as the runtime pads a file whose earlier grid it detected at that offset."""
    first = decode_rgb(jpeg_bytes(clean, tables, sampling))
    oy, ox = (0, 0) if rng.random() < 0.4 else (rng.randint(0, 7), rng.randint(0, 7))
    later = "grey" if sampling == "grey" else rng.choice(["4:2:0", "4:4:4"])
    second = decode_rgb(jpeg_bytes(np.ascontiguousarray(first[oy:, ox:]), ijg_tables(rng.randint(75, 98)), later))
    return np.pad(second, ((oy, 0), (ox, 0), (0, 0)), mode="edge")


def make_pair(img: np.ndarray, size: int, quality: int, grey: bool, rng: random.Random,
              compression: tuple[list[list[int]], str] | None = None, resave: bool = False):
    """(clean, jpeg, qtables) for a size x size crop; grey pairs have a grey target too. `compression`
    (tables, sampling) defaults to the benchmark protocol at `quality`; `resave`: saved again at a high
    quality afterwards (`resaved`), the tables still those of the first, harder compression."""
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
    tables, sampling = compression or benchmark_compression(quality, grey)
    jpg = resaved(clean, tables, sampling, rng) if resave else decode_rgb(jpeg_bytes(clean, tables, sampling))
    return clean, jpg, table_input(tables, sampling)


class Batches:
    """Random training batches: float32 NCHW in [0, 1], the qualities used (the IJG-equivalent quality of
    the tables' coarseness) and the tables [B, 2, 64]."""

    def __init__(self, images: list[np.ndarray], size: int, batch: int, grey_prob: float, seed: int,
                 extra_low: float = 0.0):
        self.images, self.extra_low = images, extra_low
        self.size, self.batch, self.grey_prob = size, batch, grey_prob
        # Sample images in proportion to sqrt(area) so big photos are not drowned by small ones
        # nor dominate them.
        weights = np.sqrt(np.array([im.shape[0] * im.shape[1] for im in images], dtype=np.float64))
        self.weights = (weights / weights.sum()).tolist()
        self.rng = random.Random(seed)

    def next(self):
        cleans, jpegs, qs, tabs = [], [], [], []
        for _ in range(self.batch):
            img = self.rng.choices(self.images, self.weights)[0]
            q = sample_quality(self.rng, self.extra_low)
            grey = self.rng.random() < self.grey_prob
            # 8 %: compressed hard (QF <= 40), then re-saved at a high quality.
            resave = q <= 40 and self.rng.random() < 0.12
            compression = sample_compression(q, grey, self.rng)
            clean, jpg, tab = make_pair(img, self.size, q, grey, self.rng, compression, resave)
            cleans.append(clean)
            jpegs.append(jpg)
            qs.append(q)
            tabs.append(tab)
        to_t = lambda a: np.stack(a).astype(np.float32).transpose(0, 3, 1, 2) / 255.0  # noqa: E731
        return to_t(cleans), to_t(jpegs), np.array(qs, dtype=np.float32), np.stack(tabs)


def validation_set(images: list[np.ndarray], size: int, qualities: list[int], per_q: int, seed: int):
    """Fixed crops of held-out training-pool images (never the benchmark), compressed by the benchmark
    protocol: {q: (clean, jpeg, qtables)}."""
    rng = random.Random(seed)
    out = {}
    for q in qualities:
        cleans, jpegs, tabs = [], [], []
        for i in range(per_q):
            img = images[i % len(images)]
            clean, jpg, tab = make_pair(img, size, q, grey=False, rng=rng)
            cleans.append(clean)
            jpegs.append(jpg)
            tabs.append(tab)
        to_t = lambda a: np.stack(a).astype(np.float32).transpose(0, 3, 1, 2) / 255.0  # noqa: E731
        out[q] = (to_t(cleans), to_t(jpegs), np.stack(tabs))
    return out


def whole_validation_set(images: list[np.ndarray], qualities: list[int]):
    """The held-out images whole (their context is what a crop lacks), compressed by the benchmark protocol:
    {q: [(clean, jpeg, qtables), ...]}, arrays as train.py's tensors want."""
    to_t = lambda a: a.astype(np.float32).transpose(2, 0, 1)[None] / 255.0  # noqa: E731
    out = {}
    for q in qualities:
        out[q] = []
        for img in images:
            jpg, tables = benchmark_jpeg(img, q, grey=False)
            out[q].append((to_t(img), to_t(jpg), tables[None]))
    return out
