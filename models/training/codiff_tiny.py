"""Compact CODiff: CaVE + one-step latent generator, sized for CPUs.

Same stage structure and tensor contract as the official CODiff export (docs/CONTRACTS.md):
  cave(rgb01) -> tokens, quality
  vae_encoder(rgb_pm1) -> latent (already times scalingFactor)
  unet(latent, tokens) -> eps                       (timestep is a constant inside the graph)
  runtime: x0 = (latent - sqrt(1 - abar) * eps) / sqrt(abar); decoder input = x0 / scalingFactor
  vae_decoder(x0_unscaled, skip = rgb_pm1 of the JPEG) -> rgb_pm1   (runtime clamps to [-1, 1])

Design choices (why):
  - Latent = PixelUnshuffle(8) of the image: one latent pixel per 8x8 JPEG block, so the block grid
    (always anchored at the image origin; the runtime pads bottom/right only) lines up with the latent.
  - The decoder predicts a residual on top of the JPEG (`skip`), so an untrained net is near identity.
  - No normalisation with image-wide statistics (tiles equal the whole image); LayerNorm only per token.
  - Attention is MatMul + Softmax (torch 1.13 has no scaled_dot_product_attention).
Works with torch 1.13 (CPU) and torch 2.x (CUDA).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from data import IJG_LUMA, ijg_table

RUNS = Path(__file__).resolve().parent / "runs"
# The run the shipped model comes from, and every log of its history in order (each architecture change
# started a new run, warm-started from the previous one; see each log's warm_start record).
CURRENT_RUN = RUNS / "codiff-tiny-r4"
RUN_LOGS = [RUNS / "codiff-tiny" / "log.jsonl", RUNS / "codiff-tiny-r2" / "log.jsonl",
            RUNS / "codiff-tiny-r3" / "log.jsonl", CURRENT_RUN / "log.jsonl"]

SCALING_FACTOR = 0.18215
TIMESTEP = 499


def alpha_bar(t: int = TIMESTEP) -> float:
    """DDPM scaled-linear schedule of SD 2.1 (betas 0.00085..0.012, 1000 steps)."""
    betas = torch.linspace(0.00085**0.5, 0.012**0.5, 1000, dtype=torch.float64) ** 2
    return float(torch.cumprod(1.0 - betas, 0)[t])


ALPHA_BAR = alpha_bar()


@dataclass
class Config:
    cave_ch: tuple = (48, 96, 128)  # widths at /8, /16, /32
    token_dim: int = 128
    latent_ch: int = 16
    enc_ch: int = 64
    unet_ch: tuple = (48, 96, 128)  # widths at /8, /16, /32 of the image
    heads: int = 4
    dec_ch: int = 64
    dec_fullres_ch: int = 8
    pad_multiple: int = 32
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @staticmethod
    def from_dict(d: dict) -> Config:
        d = dict(d)
        for k in ("cave_ch", "unet_ch"):
            d[k] = tuple(d[k])
        return Config(**d)


TINY_RANDOM = Config(cave_ch=(8, 12, 16), token_dim=16, latent_ch=4, enc_ch=8, unet_ch=(8, 12, 16),
                     heads=2, dec_ch=8, dec_fullres_ch=4)


def conv3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride, 1)


def kaiming_(module: nn.Module) -> nn.Module:
    """He init for every conv/linear, so activations keep their scale through depth."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return module


def small_init_(layer: nn.Module, scale: float = 0.1) -> nn.Module:
    """Output layers start small but not zero (a zero init stalled at identity in the notes)."""
    with torch.no_grad():
        layer.weight.mul_(scale)
        if layer.bias is not None:
            layer.bias.zero_()
    return layer


def act(x: torch.Tensor, slope: float) -> torch.Tensor:
    """ReLU, or leaky ReLU when slope > 0: a ReLU in front of a projection can go silent on every input
    (the first run's decoder trunk and UNet did: dead units get no gradient and never recover)."""
    return F.leaky_relu(x, slope) if slope > 0 else F.relu(x)


class ResBlock(nn.Module):
    def __init__(self, ch: int, slope: float = 0.0):
        super().__init__()
        self.slope = slope
        self.c1 = kaiming_(conv3(ch, ch))
        self.c2 = small_init_(kaiming_(conv3(ch, ch)), 0.2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.c2(act(self.c1(x), self.slope))


class CrossAttention(nn.Module):
    """Pre-LN cross-attention from feature map pixels to tokens, residual."""

    def __init__(self, ch: int, token_dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm = nn.LayerNorm(ch)
        self.q = nn.Linear(ch, ch, bias=False)
        self.k = nn.Linear(token_dim, ch, bias=False)
        self.v = nn.Linear(token_dim, ch, bias=False)
        self.out = small_init_(nn.Linear(ch, ch), 0.5)

    def forward(self, x: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        seq = x.flatten(2).transpose(1, 2)  # [B, HW, C]
        d = c // self.heads
        q = self.q(self.norm(seq)).reshape(b, -1, self.heads, d).transpose(1, 2)
        k = self.k(tokens).reshape(b, -1, self.heads, d).transpose(1, 2)
        v = self.v(tokens).reshape(b, -1, self.heads, d).transpose(1, 2)
        att = torch.softmax(torch.matmul(q, k.transpose(2, 3)) * (1.0 / math.sqrt(d)), dim=-1)
        o = torch.matmul(att, v).transpose(1, 2).reshape(b, -1, c)
        return x + self.out(o).transpose(1, 2).reshape(b, c, h, w)


LATTICE_QUALITIES = [5, 8, 10, 12, 15, 20, 25, 30, 35, 40, 50, 60, 70, 80, 90, 95]


def ijg_steps(q: int) -> list[float]:
    return [float(x) for x in ijg_table(IJG_LUMA, q)]


def dct8_basis() -> torch.Tensor:
    """Orthonormal 8x8 DCT-II (JPEG's) as 64 conv filters [64, 1, 8, 8], natural (row-major) order."""
    n = torch.arange(8, dtype=torch.float64)
    k = n[:, None]
    c = torch.cos((2 * n[None, :] + 1) * k * math.pi / 16) * torch.where(k == 0, math.sqrt(1 / 8), math.sqrt(2 / 8))
    return torch.einsum("ux,vy->uvxy", c, c).reshape(64, 1, 8, 8).float()


class BlockStats(nn.Module):
    """Fixed JPEG-domain statistics of the luma: log energy per DCT frequency, and for candidate IJG
    qualities how well the coefficients sit on that quality's quantisation lattice (decoded JPEG
    coefficients are near multiples of the steps). Pooled over the image: [B, 64 + 3 x candidates].

    Per candidate: the lattice score over all coefficients; the score over only the coefficients that
    are non-zero on that lattice (zeros fit every lattice, so at low quality they drown the signal,
    and the step of quality q/2 is about twice that of q: odd multiples score -1 on the coarser one);
    and the share of such non-zero coefficients."""

    def __init__(self):
        super().__init__()
        self.register_buffer("basis", dct8_basis())
        self.register_buffer("luma", torch.tensor([0.299, 0.587, 0.114]).reshape(1, 3, 1, 1) * 255.0)
        self.register_buffer("inv_steps", torch.tensor([[1.0 / s for s in ijg_steps(q)] for q in LATTICE_QUALITIES])
                             .reshape(len(LATTICE_QUALITIES), 1, 64, 1, 1))

    def forward(self, rgb01: torch.Tensor) -> torch.Tensor:
        y = (rgb01 * self.luma).sum(dim=1, keepdim=True) - 128.0  # JPEG's level shift keeps DC on the lattice
        coef = F.conv2d(y, self.basis, stride=8)  # [B, 64, H/8, W/8]
        energy = torch.log((coef * coef).mean(dim=(2, 3)) + 1.0)
        scores, nz_scores, nz_shares = [], [], []
        for i in range(self.inv_steps.shape[0]):
            ratio = coef * self.inv_steps[i]
            fit = torch.cos(ratio * (2 * math.pi))
            nz = (ratio.abs() > 0.5).float()
            count = nz.sum(dim=(1, 2, 3))
            scores.append(fit.mean(dim=(1, 2, 3)).unsqueeze(1))
            nz_scores.append(((fit * nz).sum(dim=(1, 2, 3)) / (count + 1.0)).unsqueeze(1))
            nz_shares.append(nz.mean(dim=(1, 2, 3)).sqrt().unsqueeze(1))  # trace-safe: no Python size
        return torch.cat([energy * 0.25] + scores + nz_scores + nz_shares, 1)


# JPEG's (JFIF) full-range RGB -> YCbCr, rows Y, Cb, Cr, as libjpeg converts.
RGB_TO_YCC = [[0.299, 0.587, 0.114], [-0.168735892, -0.331264108, 0.5], [0.5, -0.418687589, -0.081312411]]
# The quantization step (1..32767, 16-bit tables included) as a feature: log2(step) / 8 is 0..1 for 8-bit tables.
LOG_STEP_SCALE = 1.0 / 8.0


def film_(layer: nn.Linear) -> nn.Linear:
    """A modulation that starts as the identity (scale 1 + 0, shift 0): a warm-started model keeps its function."""
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def film(x: torch.Tensor, gb: torch.Tensor) -> torch.Tensor:
    """x * (1 + gamma) + beta, per channel, from gb = [B, 2C]."""
    g, b = gb[:, :, None, None].chunk(2, dim=1)
    return x * (1.0 + g) + b


class TableEmbed(nn.Module):
    """The source's quantization tables ([B, 2, 64] steps, luma then chroma, natural order) -> [B, dim]."""

    def __init__(self, dim: int = 64, slope: float = 0.1):
        super().__init__()
        self.a = slope
        self.l1 = kaiming_(nn.Linear(128, 128))
        self.l2 = kaiming_(nn.Linear(128, dim))

    def forward(self, qtables: torch.Tensor) -> torch.Tensor:
        f = torch.log2(qtables.clamp_min(1.0)).flatten(1) * LOG_STEP_SCALE
        return act(self.l2(act(self.l1(f), self.a)), self.a)


class BlockDCT(nn.Module):
    """rgb_pm1 <-> per-8x8-block DCT coefficients of JPEG's level-shifted Y, Cb, Cr on the 0..255 scale,
    [B, 192, H/8, W/8] with channel = component * 64 + natural-order frequency (libjpeg's coefficients
    before quantization, on the pixel grid of the full-resolution planes)."""

    def __init__(self):
        super().__init__()
        m = torch.tensor(RGB_TO_YCC, dtype=torch.float64)
        basis = dct8_basis().double().reshape(64, 64)  # [frequency, pixel]
        self.register_buffer("to_ycc", (m * 127.5).float().reshape(3, 3, 1, 1))
        self.register_buffer("ycc_bias", torch.tensor([-0.5, 0.0, 0.0]))  # Y - 128 on the 0..255 scale
        self.register_buffer("fwd", basis.repeat(3, 1).float().reshape(192, 64, 1, 1))
        self.register_buffer("inv", basis.t().repeat(3, 1).float().reshape(192, 64, 1, 1))
        self.register_buffer("from_ycc", (torch.linalg.inv(m) / 127.5).float().reshape(3, 3, 1, 1))

    def forward(self, rgb_pm1: torch.Tensor) -> torch.Tensor:
        ycc = F.conv2d(rgb_pm1, self.to_ycc, self.ycc_bias)
        return F.conv2d(F.pixel_unshuffle(ycc, 8), self.fwd, groups=3)

    def delta_to_rgb(self, coef: torch.Tensor) -> torch.Tensor:
        """A change of the coefficients -> the change of rgb_pm1 (linear, no offset)."""
        return F.conv2d(F.pixel_shuffle(F.conv2d(coef, self.inv, groups=3), 8), self.from_ycc)


def steps192(qtables: torch.Tensor) -> torch.Tensor:
    """[B, 2, 64] tables -> [B, 192, 1, 1] step of every BlockDCT channel (Y: luma; Cb, Cr: chroma)."""
    return torch.cat([qtables[:, 0], qtables[:, 1], qtables[:, 1]], 1).clamp_min(1.0)[:, :, None, None]


class CaVE(nn.Module):
    """Compression-aware visual embedder: tokens on the x32 grid plus a 0..100 quality head."""

    def __init__(self, cfg: Config):
        super().__init__()
        c8, c16, c32 = cfg.cave_ch
        self.head = nn.Conv2d(3 * 64, c8, 1)  # per-8x8-block transform (a learned DCT)
        self.s8 = nn.Sequential(ResBlock(c8), ResBlock(c8))
        self.down16 = conv3(c8, c16, 2)
        self.s16 = ResBlock(c16)
        self.down32 = conv3(c16, c32, 2)
        self.s32 = nn.Sequential(ResBlock(c32), ResBlock(c32))
        self.qbody = ResBlock(c32)
        # Quality head input: deep features pooled, plus the log energy of every channel of the per-block
        # transform (how much high-frequency content survived quantisation: the strongest quality cue).
        self.stats = BlockStats()
        self.qmlp = nn.Sequential(nn.Linear(c32 + c8 + 64 + 3 * len(LATTICE_QUALITIES), 128), nn.ReLU(),
                                  nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 1))
        self.proj = nn.Linear(c32, cfg.token_dim)
        self.qembed = nn.Sequential(nn.Linear(1, 64), nn.ReLU(), nn.Linear(64, cfg.token_dim))

    def features(self, rgb01: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        blocks = self.head(F.pixel_unshuffle(rgb01 * 2.0 - 1.0, 8))
        f8 = self.s8(F.relu(blocks))
        f16 = self.s16(F.relu(self.down16(f8)))
        f32 = self.s32(F.relu(self.down32(f16)))
        return f8, f32, blocks

    def quality(self, f32: torch.Tensor, blocks: torch.Tensor, rgb01: torch.Tensor) -> torch.Tensor:
        pooled = F.relu(self.qbody(f32)).mean(dim=(2, 3))
        energy = torch.log((blocks * blocks).mean(dim=(2, 3)) + 1e-4)
        feats = torch.cat([pooled, energy, self.stats(rgb01)], 1)
        return torch.sigmoid(self.qmlp(feats)) * 100.0  # [B, 1] quality 0..100

    def tokens(self, f32: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
        seq = f32.flatten(2).transpose(1, 2)  # [B, N, C], N = (H/32)(W/32)
        return self.proj(seq) + self.qembed(quality / 100.0).unsqueeze(1)

    def forward(self, rgb01: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _, f32, blocks = self.features(rgb01)
        q = self.quality(f32, blocks, rgb01)
        return self.tokens(f32, q), q


class CaveTrainDecoder(nn.Module):
    """Training-only decoder for CaVE's implicit (reconstruction) loss; never exported."""

    def __init__(self, cfg: Config):
        super().__init__()
        c8, _, c32 = cfg.cave_ch
        self.fuse = conv3(c8 + c32, c8)
        self.body = ResBlock(c8)
        self.out = small_init_(nn.Conv2d(c8, 3 * 64, 1))

    def forward(self, rgb01: torch.Tensor, f8: torch.Tensor, f32: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(f32, scale_factor=4.0, mode="nearest")
        x = self.body(F.relu(self.fuse(torch.cat([f8, up], 1))))
        return rgb01 + F.pixel_shuffle(self.out(F.relu(x)), 8)


class VaeEncoder(nn.Module):
    """rgb_pm1 -> latent (x scalingFactor), one latent pixel per 8x8 block."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.a = cfg.extra.get("leaky", 0.0)
        self.inp = nn.Conv2d(3 * 64, cfg.enc_ch, 1)
        self.body = ResBlock(cfg.enc_ch, self.a)
        self.out = conv3(cfg.enc_ch, cfg.latent_ch)

    def forward(self, rgb_pm1: torch.Tensor) -> torch.Tensor:
        x = self.body(act(self.inp(F.pixel_unshuffle(rgb_pm1, 8)), self.a))
        return self.out(act(x, self.a)) * SCALING_FACTOR


class UNet(nn.Module):
    """Latent UNet (/8 -> /16 -> /32), cross-attention to CaVE tokens at /16 and /32.

    Predicts eps for the fixed timestep; an in-graph skip makes x0 == latent at the start.
    """

    def __init__(self, cfg: Config):
        super().__init__()
        c8, c16, c32 = cfg.unet_ch
        a = self.a = cfg.extra.get("leaky", 0.0)
        self.inp = conv3(cfg.latent_ch, c8)
        self.e8 = ResBlock(c8, a)
        self.down16 = conv3(c8, c16, 2)
        self.e16 = ResBlock(c16, a)
        self.down32 = conv3(c16, c32, 2)
        self.m1 = ResBlock(c32, a)
        self.att32 = CrossAttention(c32, cfg.token_dim, cfg.heads)
        self.m2 = ResBlock(c32, a)
        self.up16 = nn.Conv2d(c32, c16 * 4, 1)
        self.d16 = conv3(2 * c16, c16)
        self.att16 = CrossAttention(c16, cfg.token_dim, cfg.heads)
        self.r16 = ResBlock(c16, a)
        self.up8 = nn.Conv2d(c16, c8 * 4, 1)
        self.d8 = conv3(2 * c8, c8)
        self.r8 = ResBlock(c8, a)
        self.out = small_init_(conv3(c8, cfg.latent_ch), 0.1)
        # extra["tables"]: the source's quantization tables shift every token and modulate the x8 features.
        self.tables = TableEmbed(slope=a or 0.1) if cfg.extra.get("tables") else None
        if self.tables is not None:
            self.tok_add = film_(nn.Linear(64, cfg.token_dim))
            self.film8 = film_(nn.Linear(64, 2 * c8))
        s0, s1 = math.sqrt(ALPHA_BAR), math.sqrt(1.0 - ALPHA_BAR)
        # eps that makes x0 == sample: eps = sample * (1 - s0) / s1
        self.identity_eps = (1.0 - s0) / s1
        self.delta_eps = -s0 / s1  # eps term that moves x0 by +delta

    def forward(self, sample: torch.Tensor, encoder_hidden_states: torch.Tensor,
                qtables: torch.Tensor | None = None) -> torch.Tensor:
        t = encoder_hidden_states
        h8 = self.inp(sample)
        if self.tables is not None:
            e = self.tables(qtables)
            t = t + self.tok_add(e).unsqueeze(1)
            h8 = film(h8, self.film8(e))
        h8 = self.e8(act(h8, self.a))
        h16 = self.e16(act(self.down16(act(h8, self.a)), self.a))
        h32 = act(self.down32(act(h16, self.a)), self.a)
        h32 = self.m2(self.att32(self.m1(h32), t))
        u16 = F.pixel_shuffle(self.up16(act(h32, self.a)), 2)
        u16 = self.r16(self.att16(act(self.d16(torch.cat([u16, h16], 1)), self.a), t))
        u8 = F.pixel_shuffle(self.up8(act(u16, self.a)), 2)
        u8 = self.r8(act(self.d8(torch.cat([u8, h8], 1)), self.a))
        delta = self.out(act(u8, self.a))
        return sample * self.identity_eps + delta * self.delta_eps


class SubpixelRefine(nn.Module):
    """Residual refinement at 1/s resolution: (coarse, skip) pixel-unshuffled by s, a few 3x3 convs with
    `ch` channels, shuffled back. Sees the pixels inside each 8x8 block (ringing, block edges) at a cost
    of 9 ch^2 / s^2 multiply-adds per pixel per conv, instead of a full-resolution conv's 9 ch^2."""

    def __init__(self, s: int, ch: int, convs: int, slope: float = 0.0, tables: bool = False):
        super().__init__()
        self.s, self.a = s, slope
        self.inp = conv3(6 * s * s, ch)
        self.film = film_(nn.Linear(64, 2 * ch)) if tables else None
        self.body = nn.ModuleList(conv3(ch, ch) for _ in range(convs - 2))
        self.out = small_init_(conv3(ch, 3 * s * s), 0.1)

    def forward(self, coarse: torch.Tensor, skip: torch.Tensor, e: torch.Tensor | None = None) -> torch.Tensor:
        x = self.inp(F.pixel_unshuffle(torch.cat([coarse, skip], 1), self.s))
        if self.film is not None:
            x = film(x, self.film(e))
        x = act(x, self.a)
        for conv in self.body:
            x = x + act(conv(x), self.a)
        return coarse + F.pixel_shuffle(self.out(x), self.s)


class VaeDecoder(nn.Module):
    """x0_unscaled (+ skip = rgb_pm1 of the JPEG) -> rgb_pm1 = skip + residual.

    cfg.extra["leaky"] = slope makes the generator's activations leaky (see `act`);
    cfg.extra["refine"] = [s, ch, convs] replaces the 8-channel full-resolution refinement by a
    SubpixelRefine at 1/s; cfg.extra["dec_blocks"] sets the number of /8 ResBlocks (default 2);
    cfg.extra["tables"] adds a `qtables` input (the source's quantization tables): the JPEG's block DCT
    coefficients in units of their steps enter beside the pixels, the tables modulate the trunk and the
    refinement, and a second residual is predicted in the DCT domain, in units of the steps (so the
    correction a coefficient gets scales with how coarsely it was quantized)."""

    def __init__(self, cfg: Config):
        super().__init__()
        c, cf = cfg.dec_ch, cfg.dec_fullres_ch
        self.a = cfg.extra.get("leaky", 0.0)
        self.inp = conv3(cfg.latent_ch + 3 * 64, c)
        self.b1 = ResBlock(c, self.a)
        self.b2 = ResBlock(c, self.a) if cfg.extra.get("dec_blocks", 2) >= 2 else nn.Identity()
        self.to_px = small_init_(nn.Conv2d(c, 3 * 64, 1), 0.1)
        tables = bool(cfg.extra.get("tables"))
        self.tables = TableEmbed(slope=self.a or 0.1) if tables else None
        if tables:
            self.dct = BlockDCT()
            self.dct_in = film_(nn.Conv2d(192, c, 1))  # zero: starts ignoring the new input
            self.film = film_(nn.Linear(64, 2 * c))
            self.to_dct = film_(nn.Conv2d(c, 192, 1))
        refine = cfg.extra.get("refine")
        self.refine = SubpixelRefine(*refine, slope=self.a, tables=tables) if refine else None
        if self.refine is None:
            self.ref1 = conv3(6, cf)
            self.ref2 = small_init_(conv3(cf, 3), 0.1)

    def forward(self, latent: torch.Tensor, skip: torch.Tensor, qtables: torch.Tensor | None = None) -> torch.Tensor:
        x = self.inp(torch.cat([latent, F.pixel_unshuffle(skip, 8)], 1))
        e = None
        if self.tables is not None:
            e, steps = self.tables(qtables), steps192(qtables)
            coef = self.dct(skip) / steps
            x = film(x + self.dct_in(coef.clamp(-8.0, 8.0) * 0.25), self.film(e))
        x = act(self.b2(self.b1(act(x, self.a))), self.a)
        coarse = skip + F.pixel_shuffle(self.to_px(x), 8)
        if self.tables is not None:
            coarse = coarse + self.dct.delta_to_rgb(self.to_dct(x) * steps)
        if self.refine is not None:
            return self.refine(coarse, skip, e)
        return coarse + self.ref2(F.relu(self.ref1(torch.cat([coarse, skip], 1))))


class Generator(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.vae_encoder = VaeEncoder(cfg)
        self.unet = UNet(cfg)
        self.vae_decoder = VaeDecoder(cfg)

    def forward(self, rgb01: torch.Tensor, tokens: torch.Tensor, qtables: torch.Tensor | None = None) -> torch.Tensor:
        """Exactly the runtime's sequence, without the final clamp; returns rgb01. `qtables` ([B, 2, 64]
        steps, natural order) only for a model with extra["tables"]."""
        lq = rgb01 * 2.0 - 1.0
        z = self.vae_encoder(lq)
        eps = self.unet(z, tokens, qtables)
        x0 = (z - math.sqrt(1.0 - ALPHA_BAR) * eps) / math.sqrt(ALPHA_BAR)
        out = self.vae_decoder(x0 / SCALING_FACTOR, lq, qtables)
        return out * 0.5 + 0.5


class CodiffTiny(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        self.cave = CaVE(cfg)
        self.cave_decoder = CaveTrainDecoder(cfg)
        self.gen = Generator(cfg)
        # He init everywhere except the layers deliberately started small (names below).
        small = {"c2", "out", "to_px", "ref2", "dct_in", "film", "film8", "tok_add", "to_dct"}
        for name, m in self.named_modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)) and name.split(".")[-1] not in small:
                kaiming_(m)

    @property
    def takes_tables(self) -> bool:
        return bool(self.cfg.extra.get("tables"))

    @torch.no_grad()
    def restore(self, rgb01: torch.Tensor, qtables: torch.Tensor | None = None) -> torch.Tensor:
        """Inference on a padded batch (H, W multiples of pad_multiple): clamped rgb01."""
        tokens, _ = self.cave(rgb01)
        return self.gen(rgb01, tokens, qtables if self.takes_tables else None).clamp(0.0, 1.0)


def load_checkpoint(path, ema: bool = False) -> tuple[CodiffTiny, dict]:
    """The model in a weights.pt/state.pt (fp16 or fp32), in eval mode, and its progress. `ema`: the
    exponential moving average of the weights that train.py keeps beside the raw ones (smoother: the raw
    weights' validation swings by about 0.1 dB from one check to the next at a constant learning rate)."""
    st = torch.load(path, map_location="cpu")
    if ema and "ema" not in st:
        raise SystemExit(f"{path} holds no EMA weights (trained before train.py kept them)")
    model = CodiffTiny(Config.from_dict(st["config"]) if "config" in st else Config())
    model.load_state_dict({k: v.float() for k, v in st["ema" if ema else "model"].items()})
    return model.eval(), st.get("progress", {})


def pad_to_multiple(rgb01: torch.Tensor, multiple: int) -> torch.Tensor:
    """The runtime's padding rule: replicate the last row/column, bottom and right only."""
    h, w = rgb01.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return rgb01
    return F.pad(rgb01, (0, pw, 0, ph), mode="replicate")


def restore_image(model: CodiffTiny, rgb01: torch.Tensor, qtables: torch.Tensor | None = None) -> torch.Tensor:
    """Pad, restore, crop back: what the runtime does for one untiled image."""
    h, w = rgb01.shape[-2:]
    return model.restore(pad_to_multiple(rgb01, model.cfg.pad_multiple), qtables)[..., :h, :w]


def count_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def flops_per_megapixel(model: CodiffTiny, side: int = 512) -> dict:
    """Multiply-adds x2 of convs, linears and attention matmuls at an input of side x side, scaled to 1 MP:
    per stage, their total, and the decoder's refinement on its own ("vae_decoder.refine", when present;
    part of vae_decoder, not added to the total again)."""
    counts: dict[str, float] = {}

    def hook_for(stage: str):
        def hook(mod, inp, out):
            if isinstance(mod, nn.Conv2d):
                n = out.numel() * (mod.in_channels // mod.groups) * mod.kernel_size[0] * mod.kernel_size[1] * 2
            elif isinstance(mod, nn.Linear):
                n = out.numel() * mod.in_features * 2
            elif isinstance(mod, BlockDCT):  # colour conversion + 64-tap transform, there and back
                b, _, h, w = inp[0].shape
                n = 2 * 2 * b * h * w * (9 + 3 * 64)
            elif isinstance(mod, CrossAttention):
                b, c, h, w = inp[0].shape
                n = 2 * 2 * b * h * w * inp[1].shape[1] * c
            else:
                return
            counts[stage] = counts.get(stage, 0.0) + n
        return hook

    handles = []
    stages = [("cave", model.cave), ("vae_encoder", model.gen.vae_encoder),
              ("unet", model.gen.unet), ("vae_decoder", model.gen.vae_decoder)]
    parts = [("vae_decoder.refine", model.gen.vae_decoder.refine)] if model.gen.vae_decoder.refine else []
    for stage, mod in stages + parts:
        for sub in mod.modules():
            handles.append(sub.register_forward_hook(hook_for(stage)))
    x = torch.rand(1, 3, side, side)
    with torch.no_grad():
        model.restore(x, torch.full((1, 2, 64), 10.0))
    for h in handles:
        h.remove()
    mp = side * side / 1e6
    out = {k: v / mp / 1e9 for k, v in counts.items()}
    out["total"] = sum(out[stage] for stage, _ in stages)
    return out
