"""Write tests/fixtures/model-official-random/: a tiny, randomly initialised model folder with the layout
the official CODiff export writes (layout.py): the same graph input/output names and shape pattern
(image [1,3,H,W], tokens [1,N,1024], latent [1,4,H/8,W/8]), float16 I/O, the UNet's weights in
unet.onnx.data, the timestep a constant, `proj` folded into cave, and the same manifest fields. Its
networks are small stand-ins (a few hundred thousand parameters), not CODiff: it tests the runtime's
handling of the layout, not restoration quality. Deterministic (fixed seeds).

  /usr/bin/python3 models/export/official/make_random_official.py
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from layout import (PAD_MULTIPLE, SCALING_FACTOR, TIMESTEP, TOKEN_DIM, export_stage,  # noqa: E402
                    write_manifest, write_reference)

OUT = Path(__file__).resolve().parents[3] / "tests/fixtures/model-official-random"


class ResBlock(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(),
                                  nn.Conv2d(c, c, 3, padding=1))

    def forward(self, x):
        return x + self.body(x)


class CaveStandIn(nn.Module):
    """FBCNN-shaped: head, residual stages downsampling ×2, ×4, ×4, tokens through `proj`, a quality head.
    Float16 in and out, float32 inside (as the official CaVE runs)."""

    def __init__(self, nc=(8, 16, 32, 64)):
        super().__init__()
        self.head = nn.Conv2d(3, nc[0], 3, padding=1)
        self.body = nn.Sequential(
            ResBlock(nc[0]), nn.Conv2d(nc[0], nc[1], 2, stride=2),
            ResBlock(nc[1]), nn.Conv2d(nc[1], nc[2], 4, stride=4),
            ResBlock(nc[2]), nn.Conv2d(nc[2], nc[3], 4, stride=4), ResBlock(nc[3]))
        self.proj = nn.Linear(nc[3], TOKEN_DIM)
        self.qf = nn.Sequential(ResBlock(nc[3]), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                nn.Linear(nc[3], 16), nn.ReLU(), nn.Linear(16, 1), nn.Sigmoid())

    def forward(self, image):
        x = self.body(self.head(image.float()))
        tokens = self.proj(x.flatten(2).transpose(1, 2))
        quality = 100.0 * (1.0 - self.qf(x))  # the head predicts (100 − QF) / 100
        return tokens.half(), quality.half()

    def float_forward(self, image):
        x = self.body(self.head(image))
        return self.proj(x.flatten(2).transpose(1, 2)), 100.0 * (1.0 - self.qf(x))


def norm(c: int) -> nn.GroupNorm:
    return nn.GroupNorm(4, c)


class VaeEncoderStandIn(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), norm(16), nn.SiLU(),
                                 nn.Conv2d(16, 32, 3, stride=2, padding=1), norm(32), nn.SiLU(),
                                 nn.Conv2d(32, 32, 3, stride=2, padding=1), norm(32), nn.SiLU(),
                                 nn.Conv2d(32, 8, 3, stride=2, padding=1))

    def forward(self, image):
        mean, _logvar = self.net(image).chunk(2, dim=1)  # the distribution's mode, as the export uses
        return mean * SCALING_FACTOR


class CrossAttention(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.norm, self.q, self.out = norm(c), nn.Linear(c, c), nn.Linear(c, c)
        self.k, self.v = nn.Linear(TOKEN_DIM, c), nn.Linear(TOKEN_DIM, c)
        self.scale = c ** -0.5

    def forward(self, x, tokens):
        b, c, h, w = x.shape
        q = self.q(self.norm(x).flatten(2).transpose(1, 2))
        attn = torch.softmax(q @ self.k(tokens).transpose(1, 2) * self.scale, dim=-1)
        return x + self.out(attn @ self.v(tokens)).transpose(1, 2).reshape(b, c, h, w)


def timestep_embedding(t: int, dim: int) -> torch.Tensor:
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    angles = t * freqs
    return torch.cat([torch.cos(angles), torch.sin(angles)])[None]


class UNetStandIn(nn.Module):
    """Down once, cross-attend to the tokens at both levels, up to the skip's exact size (as diffusers does
    for sizes that are not a multiple of 8), the timestep embedded from a constant."""

    def __init__(self, c=32):
        super().__init__()
        self.register_buffer("temb_in", timestep_embedding(TIMESTEP, 32))
        self.temb = nn.Sequential(nn.Linear(32, 64), nn.SiLU(), nn.Linear(64, c))
        self.conv_in = nn.Conv2d(4, c, 3, padding=1)
        self.attn0 = CrossAttention(c)
        self.down = nn.Conv2d(c, 2 * c, 3, stride=2, padding=1)
        self.attn1 = CrossAttention(2 * c)
        self.up = nn.Conv2d(3 * c, c, 3, padding=1)
        self.out = nn.Sequential(norm(c), nn.SiLU(), nn.Conv2d(c, 4, 3, padding=1))

    def forward(self, sample, encoder_hidden_states):
        h0 = self.conv_in(sample) + self.temb(self.temb_in)[:, :, None, None]
        h0 = self.attn0(h0, encoder_hidden_states)
        h1 = self.attn1(F.silu(self.down(h0)), encoder_hidden_states)
        up = F.interpolate(h1, size=h0.shape[-2:], mode="nearest")
        return self.out(self.up(torch.cat([up, h0], dim=1)))


class VaeDecoderStandIn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv_in = nn.Conv2d(4, 32, 3, padding=1)
        self.blocks = nn.ModuleList([nn.Conv2d(32, 32, 3, padding=1), nn.Conv2d(32, 16, 3, padding=1),
                                     nn.Conv2d(16, 16, 3, padding=1)])
        self.out = nn.Sequential(norm(16), nn.SiLU(), nn.Conv2d(16, 3, 3, padding=1))

    def forward(self, latent):
        h = self.conv_in(latent)
        for block in self.blocks:  # SD's VAE decoder upsamples with scale_factor=2, nearest
            h = block(F.silu(F.interpolate(h, scale_factor=2.0, mode="nearest")))
        return self.out(h)


def round_to_float16(module: nn.Module) -> nn.Module:
    """Weights exactly representable in float16, so the float32 reference differs from the float16 graphs
    only by activation rounding."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(p.half().float())
    return module


def main() -> int:
    torch.manual_seed(0)
    cave, encoder = CaveStandIn().eval(), round_to_float16(VaeEncoderStandIn()).eval()
    unet, decoder = round_to_float16(UNetStandIn()).eval(), round_to_float16(VaeDecoderStandIn()).eval()
    with torch.no_grad():  # BatchNorm statistics that are not the identity, as a trained CaVE has
        for m in cave.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    OUT.mkdir(parents=True, exist_ok=True)
    image = torch.rand(1, 3, 2 * PAD_MULTIPLE, 3 * PAD_MULTIPLE)
    # The UNet is traced at a latent size that is not a multiple of 8 (13 × 11), as the real export must be.
    latent, tokens = torch.randn(1, 4, 13, 11), torch.randn(1, 7, TOKEN_DIM)
    with torch.no_grad():
        export_stage("cave", cave, (image.half(),), OUT, convert=False)
        export_stage("vaeEncoder", encoder, (image * 2 - 1,), OUT, convert=True)
        export_stage("unet", unet, (latent, tokens), OUT, convert=True)
        export_stage("vaeDecoder", decoder, (latent,), OUT, convert=True)
    ref = write_reference(cave.float_forward, encoder, unet, decoder, OUT / "reference",
                          "float32 PyTorch with float16-rounded weights; the float16 graphs differ by activation rounding")
    manifest = write_manifest(OUT, "model-official-random", "0.0.0-random", {"reference": "reference"})
    params = sum(p.numel() for m in (cave, encoder, unet, decoder) for p in m.parameters())
    size = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"wrote {OUT}: {params} parameters, {size / 1e6:.2f} MB, files {sorted(manifest['sha256'])}")
    for c in ref["cases"]:
        print(c["name"], c["shapes"]["output_rgb01"], "predicted quality", c["predictedQuality"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
