"""The model folder the official CODiff export writes (docs/CONTRACTS.md, "Model folder"): manifest values,
ONNX export settings and file layout, shared by export_codiff.py and make_random_official.py so that the
random fixture has exactly the layout of a real export.
"""

from __future__ import annotations

import hashlib
import inspect
import io
import json
import math
from pathlib import Path
from typing import Callable

import numpy as np
import onnx
import torch
import torch.nn.functional as F

from fp16 import to_float16

OPSET = 17
STAGE_FILES = {"cave": "cave.onnx", "vaeEncoder": "vae_encoder.onnx", "unet": "unet.onnx",
               "vaeDecoder": "vae_decoder.onnx"}
# The UNet is ~1.7 GB in float16, close to protobuf's 2 GB limit: its weights go to one side file.
EXTERNAL_DATA = {"unet.onnx": "unet.onnx.data"}
SCALING_FACTOR = 0.18215
TIMESTEP = 499
TOKEN_DIM = 1024
PAD_MULTIPLE = 64


def alpha_bar(timestep: int = TIMESTEP) -> float:
    """ᾱ_t of SD 2.1's DDPM schedule: scaled-linear betas 0.00085..0.012 over 1000 steps."""
    betas = np.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=np.float64) ** 2
    return float(np.prod(1.0 - betas[: timestep + 1]))


# Graph input/output names → value names. No optional `quality` input on cave, no `skip` on the decoder.
STAGES = {
    "cave": {"file": "cave.onnx", "inputs": {"image": "rgb01"},
             "outputs": {"tokens": "tokens", "quality": "quality"}},
    "vaeEncoder": {"file": "vae_encoder.onnx", "inputs": {"image": "rgb_pm1"}, "outputs": {"latent": "latent"}},
    "unet": {"file": "unet.onnx", "inputs": {"sample": "latent", "encoder_hidden_states": "tokens"},
             "outputs": {"out_sample": "eps"}},
    "vaeDecoder": {"file": "vae_decoder.onnx", "inputs": {"latent": "x0_unscaled"}, "outputs": {"image": "rgb_pm1"}},
}

AXES_IMAGE = {0: "batch", 2: "height", 3: "width"}
AXES_LATENT = {0: "batch", 2: "latent_height", 3: "latent_width"}
AXES_TOKENS = {0: "batch", 1: "tokens"}
DYNAMIC_AXES = {
    "cave": {"image": AXES_IMAGE, "tokens": AXES_TOKENS, "quality": {0: "batch"}},
    "vaeEncoder": {"image": AXES_IMAGE, "latent": AXES_LATENT},
    "unet": {"sample": AXES_LATENT, "encoder_hidden_states": AXES_TOKENS, "out_sample": AXES_LATENT},
    "vaeDecoder": {"latent": AXES_LATENT, "image": AXES_IMAGE},
}


# Declared shapes of every graph input and output (names of dynamic dimensions, or sizes), written into
# the graphs so that a runtime can read the pattern from the model: the tracer leaves some of them
# unknown (the latent's channels come out of a dynamic chunk).
IMAGE, LATENT = ["batch", 3, "height", "width"], ["batch", 4, "latent_height", "latent_width"]
TOKENS, QUALITY = ["batch", "tokens", TOKEN_DIM], ["batch", 1]
SHAPES = {
    "cave": {"image": IMAGE, "tokens": TOKENS, "quality": QUALITY},
    "vaeEncoder": {"image": IMAGE, "latent": LATENT},
    "unet": {"sample": LATENT, "encoder_hidden_states": TOKENS, "out_sample": LATENT},
    "vaeDecoder": {"latent": LATENT, "image": IMAGE},
}


def declare_shapes(model: onnx.ModelProto, stage: str) -> None:
    for value in list(model.graph.input) + list(model.graph.output):
        dims = value.type.tensor_type.shape.dim
        wanted = SHAPES[stage][value.name]
        del dims[:]
        for size in wanted:
            dim = dims.add()
            if isinstance(size, int):
                dim.dim_value = size
            else:
                dim.dim_param = size


def export_stage(stage: str, module: torch.nn.Module, args: tuple, out_dir: Path, convert: bool) -> Path:
    """Traces one stage (float32, or float16 I/O already for cave), converts it to float16 when asked and
    writes it, with its weights in a side file where EXTERNAL_DATA says so."""
    spec = STAGES[stage]
    path = out_dir / spec["file"]
    options = {}
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        options["dynamo"] = False  # the TorchScript exporter: stable names and dynamic_axes
    scratch = out_dir / f".{spec['file']}.fp32"
    scratch.mkdir(exist_ok=True)
    traced = scratch / "model.onnx"
    torch.onnx.export(module, args, str(traced), opset_version=OPSET, input_names=list(spec["inputs"]),
                      output_names=list(spec["outputs"]), dynamic_axes=DYNAMIC_AXES[stage],
                      do_constant_folding=True, **options)
    model = onnx.load(str(traced), load_external_data=True)
    declare_shapes(model, stage)
    if convert:
        to_float16(model)
    for stale in [path, out_dir / EXTERNAL_DATA.get(spec["file"], "-")]:
        stale.unlink(missing_ok=True)
    external = EXTERNAL_DATA.get(spec["file"])
    if external:
        onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=external, size_threshold=0)
    else:
        onnx.save_model(model, str(path))
    for leftover in scratch.iterdir():
        leftover.unlink()
    scratch.rmdir()
    onnx.checker.check_model(str(path), full_check=True)
    return path


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(out_dir: Path, model_id: str, version: str, extra: dict | None = None) -> dict:
    files = list(STAGE_FILES.values()) + [data for graph, data in EXTERNAL_DATA.items() if graph in STAGE_FILES.values()]
    manifest = {
        "id": model_id, "version": version, "layout": "codiff-onestep",
        "stages": STAGES,
        "latent": {"channels": 4, "downscale": 8, "scalingFactor": SCALING_FACTOR},
        "diffusion": {"timestep": TIMESTEP, "alphaBar": alpha_bar(), "prediction": "epsilon"},
        "cave": {"downscale": 32, "tokenDim": TOKEN_DIM, "qualityOutput": "quality-0-100"},
        "padMultiple": PAD_MULTIPLE, "padMode": "edge", "dtype": "float16",
        # CODiff tiles the latent at 96 with overlap 32: 768 / 256 pixels.
        "tiling": {"tile": 768, "overlap": 256},
        "colorFix": "adain",
        **(extra or {}),
        "sha256": {name: sha256(out_dir / name) for name in files},
    }
    (out_dir / "model.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def synthetic_jpeg(h: int, w: int, quality: int, seed: int) -> tuple[bytes, np.ndarray]:
    """A deterministic picture (gradients, edges, noise) as JPEG bytes and its decoded RGB in [0, 1]."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = 128 + 100 * np.sin(xx / 5.0 + seed) * np.cos(yy / 9.0)
    g = 255 * (xx + yy) / (h + w)
    b = np.where((xx // 7 + yy // 11) % 2 == 0, 210.0, 30.0)
    img = np.clip(np.stack([r, g, b], -1) + rng.normal(0, 10, (h, w, 3)), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=quality, subsampling=2)
    buf.seek(0)
    return buf.getvalue(), np.asarray(Image.open(buf).convert("RGB")).astype(np.float32) / 255.0


def pad(x: torch.Tensor, multiple: int = PAD_MULTIPLE) -> torch.Tensor:
    """Edge padding, bottom and right only, as the runtime pads."""
    h, w = x.shape[-2:]
    return F.pad(x, (0, -w % multiple, 0, -h % multiple), mode="replicate")


Stage = Callable[..., torch.Tensor]
# (name, height, width, JPEG quality, seed): neither size is a multiple of 8.
REFERENCE_CASES = [("a_48x40_q10", 40, 48, 10, 1), ("b_70x53_q30", 53, 70, 30, 2)]


@torch.no_grad()
def write_reference(cave: Callable, encoder: Stage, unet: Stage, decoder: Stage, ref_dir: Path, note: str) -> dict:
    """Parity fixtures in the format of models/export/onnx_stages.py (raw little-endian float32 per
    tensor, cases.json): every stage's float32 PyTorch output for two small JPEGs. `cave(x)` returns
    float32 (tokens, quality 0..100)."""
    s0, s1 = math.sqrt(alpha_bar()), math.sqrt(1.0 - alpha_bar())
    out = {"dtype": "float32", "byteOrder": "little", "layout": "NCHW (tokens: [1, N, tokenDim])",
           "padMultiple": PAD_MULTIPLE, "padMode": "edge (replicate last row/column), bottom and right",
           "graphDtype": "float16", "note": note, "cases": []}
    for name, h, w, quality, seed in REFERENCE_CASES:
        d = ref_dir / name
        d.mkdir(parents=True, exist_ok=True)
        jpeg, rgb = synthetic_jpeg(h, w, quality, seed)
        (d / "input.jpg").write_bytes(jpeg)
        x = torch.from_numpy(rgb.transpose(2, 0, 1).copy())[None]
        xp = pad(x)
        tokens, q = cave(xp)
        z = encoder(xp * 2 - 1)
        eps = unet(z, tokens)
        x0u = (z - s1 * eps) / s0 / SCALING_FACTOR
        dec = decoder(x0u)
        final = (dec.clamp(-1, 1) * 0.5 + 0.5)[..., :h, :w]
        tensors = {"input_rgb01": x, "padded_rgb01": xp, "tokens": tokens, "quality": q, "latent": z, "eps": eps,
                   "x0_unscaled": x0u, "decoder_rgb_pm1": dec, "output_rgb01": final}
        shapes = {}
        for key, t in tensors.items():
            arr = t.detach().float().cpu().numpy().astype("<f4")
            (d / f"{key}.bin").write_bytes(arr.tobytes(order="C"))
            shapes[key] = list(arr.shape)
        out["cases"].append({"name": name, "height": h, "width": w, "jpegQuality": quality,
                             "predictedQuality": round(float(q.reshape(-1)[0]), 4),
                             "files": {k: f"{name}/{k}.bin" for k in tensors}, "shapes": shapes})
    (ref_dir / "cases.json").write_text(json.dumps(out, indent=2) + "\n")
    return out
