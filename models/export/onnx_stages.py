"""Export a compact-CODiff PyTorch model to a model folder (docs/CONTRACTS.md, "Model folder").

Writes model.json, cave.onnx, vae_encoder.onnx, unet.onnx, vae_decoder.onnx (opset 17, dynamic batch,
height and width) and reference fixtures (raw little-endian float32) for runtime parity tests.
The official-checkpoint export belongs in models/export/official/ and writes the same manifest.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))
from codiff_tiny import ALPHA_BAR, SCALING_FACTOR, TIMESTEP, CodiffTiny, pad_to_multiple  # noqa: E402

OPSET = 17
STAGE_FILES = {"cave": "cave.onnx", "vaeEncoder": "vae_encoder.onnx", "unet": "unet.onnx",
               "vaeDecoder": "vae_decoder.onnx"}


class _Cave(nn.Module):
    def __init__(self, m: CodiffTiny):
        super().__init__()
        self.cave = m.cave

    def forward(self, image):
        return self.cave(image)


def export_stages(model: CodiffTiny, out_dir: Path) -> None:
    model.eval()
    m = model.cfg.pad_multiple
    h, w = 3 * m, 4 * m  # a padded, non-square size; dynamic axes make any multiple of padMultiple work
    img = torch.rand(1, 3, h, w)
    with torch.no_grad():
        tokens, _ = model.cave(img)
        z = model.gen.vae_encoder(img * 2 - 1)
    ax_img = {0: "batch", 2: "height", 3: "width"}
    ax_lat = {0: "batch", 2: "latent_height", 3: "latent_width"}
    # A model told the compression takes the source's tables ([1, 2, 64] steps) in the UNet and decoder.
    qt = (torch.rand(1, 2, 64) * 60 + 1,) if model.takes_tables else ()
    qt_name = ["qtables"] if model.takes_tables else []
    qt_axes = {"qtables": {0: "batch"}} if model.takes_tables else {}
    jobs = [
        ("cave", _Cave(model), (img,), ["image"], ["tokens", "quality"],
         {"image": ax_img, "tokens": {0: "batch", 1: "tokens"}, "quality": {0: "batch"}}),
        ("vaeEncoder", model.gen.vae_encoder, (img * 2 - 1,), ["image"], ["latent"],
         {"image": ax_img, "latent": ax_lat}),
        ("unet", model.gen.unet, (z, tokens, *qt), ["sample", "encoder_hidden_states", *qt_name], ["out_sample"],
         {"sample": ax_lat, "encoder_hidden_states": {0: "batch", 1: "tokens"}, "out_sample": ax_lat, **qt_axes}),
        ("vaeDecoder", model.gen.vae_decoder, (z / SCALING_FACTOR, img * 2 - 1, *qt), ["latent", "skip", *qt_name],
         ["image"], {"latent": ax_lat, "skip": ax_img, "image": ax_img, **qt_axes}),
    ]
    out_dir.mkdir(parents=True, exist_ok=True)
    for stage, mod, args, inames, onames, axes in jobs:
        torch.onnx.export(mod, args, str(out_dir / STAGE_FILES[stage]), opset_version=OPSET,
                          input_names=inames, output_names=onames, dynamic_axes=axes,
                          do_constant_folding=True)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def manifest(model: CodiffTiny, out_dir: Path, model_id: str, version: str, extra: dict) -> dict:
    cfg = model.cfg
    qt = {"qtables": "qtables"} if model.takes_tables else {}
    man = {
        "id": model_id, "version": version, "layout": "codiff-onestep",
        "stages": {
            "cave": {"file": "cave.onnx", "inputs": {"image": "rgb01"},
                     "outputs": {"tokens": "tokens", "quality": "quality"}},
            "vaeEncoder": {"file": "vae_encoder.onnx", "inputs": {"image": "rgb_pm1"}, "outputs": {"latent": "latent"}},
            "unet": {"file": "unet.onnx", "inputs": {"sample": "latent", "encoder_hidden_states": "tokens", **qt},
                     "outputs": {"out_sample": "eps"}},
            "vaeDecoder": {"file": "vae_decoder.onnx", "inputs": {"latent": "x0_unscaled", "skip": "rgb_pm1", **qt},
                           "outputs": {"image": "rgb_pm1"}},
        },
        "latent": {"channels": cfg.latent_ch, "downscale": 8, "scalingFactor": SCALING_FACTOR},
        "diffusion": {"timestep": TIMESTEP, "alphaBar": ALPHA_BAR, "prediction": "epsilon"},
        "cave": {"downscale": 32, "tokenDim": cfg.token_dim, "qualityOutput": "quality-0-100"},
        "padMultiple": cfg.pad_multiple, "padMode": "edge", "dtype": "float32",
        "tiling": {"tile": 1024, "overlap": 128},
        "colorFix": "none",
        **extra,
        "sha256": {f: sha256(out_dir / f) for f in STAGE_FILES.values()},
    }
    (out_dir / "model.json").write_text(json.dumps(man, indent=2) + "\n")
    return man


def synthetic_image(h: int, w: int, seed: int) -> np.ndarray:
    """A deterministic colourful test picture (gradients, edges, texture), uint8 HxWx3."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = 128 + 100 * np.sin(xx / 7.0 + seed) * np.cos(yy / 11.0)
    g = 255 * (xx + yy) / (h + w)
    b = np.where((xx // 9 + yy // 13) % 2 == 0, 200.0, 40.0)
    img = np.stack([r, g, b], -1) + rng.normal(0, 12, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def write_f32(path: Path, t: torch.Tensor) -> list[int]:
    arr = t.detach().cpu().numpy().astype("<f4")
    path.write_bytes(arr.tobytes(order="C"))
    return list(arr.shape)


@torch.no_grad()
def write_reference(model: CodiffTiny, ref_dir: Path, cases: list[tuple[str, int, int, int, int]]) -> dict:
    """For each (name, h, w, quality, seed): a JPEG of a synthetic picture and every stage's tensors."""
    model.eval()
    ref_dir.mkdir(parents=True, exist_ok=True)
    s0, s1 = math.sqrt(ALPHA_BAR), math.sqrt(1.0 - ALPHA_BAR)
    out = {"dtype": "float32", "byteOrder": "little", "layout": "NCHW (tokens: [1, N, tokenDim])",
           "padMultiple": model.cfg.pad_multiple, "padMode": "edge (replicate last row/column), bottom and right",
           "cases": []}
    for name, h, w, quality, seed in cases:
        d = ref_dir / name
        d.mkdir(exist_ok=True)
        buf = io.BytesIO()
        Image.fromarray(synthetic_image(h, w, seed)).save(buf, "JPEG", quality=quality, subsampling=2)
        (d / "input.jpg").write_bytes(buf.getvalue())
        buf.seek(0)
        with Image.open(buf) as im:
            rgb = np.asarray(im.convert("RGB")).astype(np.float32) / 255.0
            tables = im.quantization  # {slot: 64 steps in natural order}
        x = torch.from_numpy(rgb.transpose(2, 0, 1).copy())[None]
        xp = pad_to_multiple(x, model.cfg.pad_multiple)
        qt = torch.tensor([[list(tables[0]), list(tables[1])]], dtype=torch.float32) if model.takes_tables else None
        tokens, q = model.cave(xp)
        lq = xp * 2 - 1
        z = model.gen.vae_encoder(lq)
        eps = model.gen.unet(z, tokens, qt)
        x0u = (z - s1 * eps) / s0 / SCALING_FACTOR
        dec = model.gen.vae_decoder(x0u, lq, qt)
        final = (dec.clamp(-1, 1) * 0.5 + 0.5)[..., :h, :w]
        tensors = {"input_rgb01": x, "padded_rgb01": xp, "tokens": tokens, "quality": q, "latent": z,
                   "eps": eps, "x0_unscaled": x0u, "decoder_rgb_pm1": dec, "output_rgb01": final,
                   **({"qtables": qt} if qt is not None else {})}
        shapes = {k: write_f32(d / f"{k}.bin", t) for k, t in tensors.items()}
        out["cases"].append({"name": name, "height": h, "width": w, "jpegQuality": quality,
                             "predictedQuality": round(float(q[0, 0]), 4),
                             "files": {k: f"{name}/{k}.bin" for k in tensors}, "shapes": shapes,
                             "maxAbsChangeOutputVsInput": float((final - x).abs().max())})
    (ref_dir / "cases.json").write_text(json.dumps(out, indent=2) + "\n")
    return out


# (name, height, width, JPEG quality, seed); names say width x height. Neither size is a multiple of 8.
REFERENCE_CASES = [("a_48x40_q10", 40, 48, 10, 1), ("b_70x53_q30", 53, 70, 30, 2)]
