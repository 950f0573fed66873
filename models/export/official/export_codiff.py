"""Export the official CODiff checkpoint to a unjpeg model folder (docs/CONTRACTS.md, "Model folder").

Run where the weights are (they cannot be downloaded in unjpeg's build environment), inside a Python
environment that has torch, diffusers, peft and onnx (onnxruntime too for the self-check), with a checkout
of the CODiff repository for its CaVE class:

  python models/export/official/export_codiff.py \\
      --codiff-repo ~/src/CODiff --sd ~/models/stable-diffusion-2-1-base \\
      --codiff-pkl codiff.pkl --cave-pth cave.pth --out models/codiff-official

What it writes (layout.py): cave.onnx (float16 in/out, float32 inside, `proj` 512→1024 folded in, the
quality head as 0..100), vae_encoder.onnx (the latent distribution's mode × 0.18215), unet.onnx +
unet.onnx.data (LoRA merged into the weights, timestep 499 a constant, traced at a latent size that is not
a multiple of 8), vae_decoder.onnx; all but cave converted to float16; model.json with every file's
SHA-256; MODEL_CARD.md; with --reference, parity fixtures.

Checks it makes on itself: the merged UNet and VAE encoder give the same output as the unmerged LoRA
model (float32), and, when onnxruntime is importable, each exported float16 graph is compared with
PyTorch float32 on the tracing inputs.
"""

from __future__ import annotations

import argparse
import datetime
import re
import sys
from pathlib import Path

import torch
import torch.nn as nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from layout import (SCALING_FACTOR, STAGES, TIMESTEP, export_stage, sha256, write_manifest,  # noqa: E402
                    write_reference)

CAVE_CHANNELS = [64, 128, 256, 512]
# Latent size the UNet is traced at: not a multiple of 8, so diffusers passes explicit upsample sizes
# (the skip connections' shapes) instead of a fixed ×2 that breaks odd sizes (docs/CODIFF.md).
TRACE_LATENT = (67, 75)


class ExportError(Exception):
    pass


# --- loading -------------------------------------------------------------------------------------------

def load_cave(repo: Path, path: Path) -> nn.Module:
    sys.path.insert(0, str(repo))
    try:
        from cave.cave import CaVE  # the official class, from the CODiff checkout
    except ImportError as error:
        raise ExportError(f"cannot import cave.cave.CaVE from {repo}: pass the CODiff checkout as --codiff-repo") from error
    cave = CaVE(in_nc=3, out_nc=3, nc=CAVE_CHANNELS, nb=4, act_mode="BR")
    cave.load_state_dict(torch.load(path, map_location="cpu"), strict=True)
    return cave.eval()


def load_proj(value) -> nn.Linear:
    """`proj` in codiff.pkl: a Linear(512 → 1024) module or its state dict."""
    proj = nn.Linear(CAVE_CHANNELS[-1], 1024)
    if isinstance(value, nn.Module):
        value = value.state_dict()
    if not isinstance(value, dict) or "weight" not in value:
        raise ExportError(f"codiff.pkl['proj'] is neither a Linear nor its state dict: {type(value).__name__}")
    proj.load_state_dict({k: v for k, v in value.items() if k in ("weight", "bias")}, strict=True)
    return proj.eval()


def attach_lora(model: nn.Module, ckpt: dict, part: str) -> list[str]:
    """Adds the LoRA adapters of `part` ("unet" or "vae") the way CODiff's own loader does (peft through
    diffusers, one adapter per module list, default lora_alpha) and copies their trained weights."""
    from peft import LoraConfig

    state = ckpt[f"state_dict_{part}"]
    rank = ckpt[f"rank_{part}"]
    lists = {key[len(f"{part}_lora_"):-len("_modules")]: modules for key, modules in ckpt.items()
             if key.startswith(f"{part}_lora_") and key.endswith("_modules")}
    in_state = sorted({m.group(1) for key in state for m in [re.search(r"lora_[AB]\.([^.]+)\.", key)] if m})
    if not lists:
        raise ExportError(f"codiff.pkl has no {part}_lora_*_modules lists (keys: {sorted(ckpt)})")
    names = []
    for group, modules in sorted(lists.items()):
        name = f"default_{group}"
        if name not in in_state:
            raise ExportError(f"state_dict_{part} has no adapter {name} (it has {in_state})")
        model.add_adapter(LoraConfig(r=rank, init_lora_weights="gaussian", target_modules=modules), adapter_name=name)
        names.append(name)
    model.set_adapter(names)
    params = dict(model.named_parameters())
    unknown = [key for key in state if key not in params]
    if unknown:
        raise ExportError(f"state_dict_{part} keys not in the model: {unknown[:5]} ...")
    with torch.no_grad():
        for key, value in state.items():
            params[key].copy_(value.to(params[key].dtype))
    return names


def merge_lora(model: nn.Module) -> int:
    """Folds every LoRA delta into its base layer and puts the plain layer back (merged weights are exact:
    W + scale·B·A). Returns the number of layers merged."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    merged = 0
    for parent in list(model.modules()):
        for child_name, child in list(parent.named_children()):
            if isinstance(child, BaseTunerLayer):
                child.merge()
                setattr(parent, child_name, child.get_base_layer())
                merged += 1
    return merged


# --- the four stages -----------------------------------------------------------------------------------

def cave_quality(cave: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The quality head's sigmoid ≈ (100 − QF)/100: CaVE's forward returns it beside the reconstruction
    (FBCNN style), as the only [B, 1] output."""
    out = cave(x)
    found = [t for t in (out if isinstance(out, (tuple, list)) else [out])
             if torch.is_tensor(t) and t.dim() == 2 and t.shape[-1] == 1]
    if len(found) != 1:
        raise ExportError("CaVE's forward does not return exactly one [B, 1] quality tensor; adapt cave_quality()")
    return found[0]


class CaveStage(nn.Module):
    """float16 RGB in [0, 1] → tokens [B, N, 1024] (with `proj`) and quality [B, 1] in 0..100, float32 inside."""

    def __init__(self, cave: nn.Module, proj: nn.Linear):
        super().__init__()
        self.cave, self.proj = cave, proj

    def float_forward(self, image: torch.Tensor):
        tokens = self.proj(self.cave.get_visual_embedding(image))
        quality = 100.0 * (1.0 - cave_quality(self.cave, image))
        return tokens, quality.reshape(-1, 1)

    def forward(self, image: torch.Tensor):
        tokens, quality = self.float_forward(image.float())
        return tokens.half(), quality.half()


class VaeEncoderStage(nn.Module):
    def __init__(self, vae: nn.Module):
        super().__init__()
        self.vae = vae

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        # The distribution's mode (its mean): deterministic, unlike CODiff's sample() whose noise is tiny.
        return self.vae.encode(image).latent_dist.mode() * SCALING_FACTOR


class UNetStage(nn.Module):
    def __init__(self, unet: nn.Module):
        super().__init__()
        self.unet = unet
        self.register_buffer("timestep", torch.tensor([TIMESTEP], dtype=torch.long))  # a constant in the graph

    def forward(self, sample: torch.Tensor, encoder_hidden_states: torch.Tensor) -> torch.Tensor:
        return self.unet(sample, self.timestep, encoder_hidden_states=encoder_hidden_states, return_dict=False)[0]


class VaeDecoderStage(nn.Module):
    def __init__(self, vae: nn.Module):
        super().__init__()
        self.vae = vae

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return self.vae.decode(latent, return_dict=False)[0]


# --- checks --------------------------------------------------------------------------------------------

def assert_close(label: str, got: torch.Tensor, want: torch.Tensor, tolerance: float) -> float:
    diff = float((got.float() - want.float()).abs().max())
    scale = max(1.0, float(want.abs().max()))
    print(f"  {label:<28} max |Δ| {diff:.3g} (scale {scale:.3g})")
    if not diff <= tolerance * scale:  # also catches NaN
        raise ExportError(f"{label}: max |Δ| {diff} exceeds {tolerance} × {scale}")
    return diff


def check_with_onnxruntime(out_dir: Path, cases: dict[str, tuple[tuple, tuple]]) -> None:
    try:
        import onnxruntime
    except ImportError:
        print("onnxruntime not installed: skipping the float16 graph check")
        return
    for stage, (inputs, outputs) in cases.items():
        spec = STAGES[stage]
        session = onnxruntime.InferenceSession(str(out_dir / spec["file"]), providers=["CPUExecutionProvider"])
        feed = {name: t.detach().cpu().half().numpy() for name, t in zip(spec["inputs"], inputs)}
        results = session.run(list(spec["outputs"]), feed)
        for name, got, want in zip(spec["outputs"], results, outputs):
            assert_close(f"onnx {stage}.{name}", torch.from_numpy(got), want, 0.05)


def model_card(out_dir: Path, args: argparse.Namespace, inputs: dict[str, str], versions: dict[str, str]) -> None:
    lines = [
        "# CODiff (official weights), exported for unjpeg", "",
        "Compression-Aware One-Step Diffusion for JPEG artifact removal (Guo et al., ICCV 2025), exported by",
        "`models/export/official/export_codiff.py` from the authors' checkpoint on Stable Diffusion 2.1-base.",
        "Check the licences of CODiff and of Stable Diffusion 2.1 (CreativeML Open RAIL++-M) before use.", "",
        "## Export", "",
        f"- date: {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}",
        *[f"- {name}: `{digest}`" for name, digest in inputs.items()],
        *[f"- {name} {version}" for name, version in versions.items()], "",
        "## Differences from the PyTorch inference", "",
        "- UNet and VAE run in float16 (CaVE in float32), LoRA merged into the weights.",
        "- The VAE encoder takes the latent distribution's mode instead of a sample (deterministic).",
        "- unjpeg tiles whole images at 768 px with 256 px overlap (CODiff: latent tiles of 96, overlap 32)",
        "  and applies the AdaIN colour fix.",
        "- The UNet alone is ~1.7 GB: this model is for GPU container images, not Lambda layers.", "",
    ]
    (out_dir / "MODEL_CARD.md").write_text("\n".join(lines))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--codiff-repo", type=Path, required=True, help="checkout of the CODiff repository")
    parser.add_argument("--sd", type=Path, required=True, help="stable-diffusion-2-1-base (diffusers folder)")
    parser.add_argument("--codiff-pkl", type=Path, required=True)
    parser.add_argument("--cave-pth", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("models/codiff-official"))
    parser.add_argument("--id", default="codiff-official")
    parser.add_argument("--version", default="1.0.0")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--reference", action="store_true", help="also write parity fixtures under reference/")
    args = parser.parse_args(argv)

    import diffusers
    import onnx
    import peft
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from diffusers.models.attention_processor import AttnProcessor

    device = torch.device(args.device)
    ckpt = torch.load(args.codiff_pkl, map_location="cpu")
    cave = load_cave(args.codiff_repo, args.cave_pth)
    proj = load_proj(ckpt["proj"])
    unet = UNet2DConditionModel.from_pretrained(args.sd, subfolder="unet").eval()
    vae = AutoencoderKL.from_pretrained(args.sd, subfolder="vae").eval()
    print("adapters:", attach_lora(unet, ckpt, "unet"), attach_lora(vae, ckpt, "vae"))

    torch.manual_seed(0)
    h, w = TRACE_LATENT
    image = torch.rand(1, 3, 8 * h, 8 * w)  # also not a multiple of 64: the graphs must not care
    latent = torch.randn(1, 4, h, w)
    cave_stage = CaveStage(cave, proj).to(device).eval()
    with torch.no_grad():
        tokens, quality = cave_stage.float_forward(image.to(device))
        unet, vae = unet.to(device), vae.to(device)
        before = {"unet": UNetStage(unet)(latent.to(device), tokens), "vae": VaeEncoderStage(vae)(image.to(device) * 2 - 1)}
        print(f"merged {merge_lora(unet)} UNet and {merge_lora(vae)} VAE LoRA layers")
        unet.set_attn_processor(AttnProcessor())  # plain matmul attention: exports on every torch version
        vae.set_attn_processor(AttnProcessor())
        stages = {"unet": UNetStage(unet).eval(), "vaeEncoder": VaeEncoderStage(vae).eval(),
                  "vaeDecoder": VaeDecoderStage(vae).eval()}
        print("merged vs unmerged (float32):")
        eps = stages["unet"](latent.to(device), tokens)
        z = stages["vaeEncoder"](image.to(device) * 2 - 1)
        assert_close("unet eps", eps, before["unet"], 1e-3)
        assert_close("vae encoder latent", z, before["vae"], 1e-3)
        decoded = stages["vaeDecoder"](latent.to(device) / SCALING_FACTOR)

        args.out.mkdir(parents=True, exist_ok=True)
        print(f"exporting to {args.out} (device {device})")
        export_stage("cave", cave_stage, (image.to(device).half(),), args.out, convert=False)
        export_stage("vaeEncoder", stages["vaeEncoder"], (image.to(device) * 2 - 1,), args.out, convert=True)
        export_stage("unet", stages["unet"], (latent.to(device), tokens), args.out, convert=True)
        export_stage("vaeDecoder", stages["vaeDecoder"], (latent.to(device) / SCALING_FACTOR,), args.out, convert=True)

    check_with_onnxruntime(args.out, {
        "cave": ((image,), (tokens, quality)),
        "vaeEncoder": ((image * 2 - 1,), (z,)),
        "unet": ((latent, tokens), (eps,)),
        "vaeDecoder": ((latent / SCALING_FACTOR,), (decoded,)),
    })
    extra = {}
    if args.reference:
        with torch.no_grad():
            write_reference(lambda x: cave_stage.float_forward(x.to(device)),
                            lambda x: stages["vaeEncoder"](x.to(device)),
                            lambda s, t: stages["unet"](s.to(device), t.to(device)),
                            lambda x: stages["vaeDecoder"](x.to(device)),
                            args.out / "reference", "float32 PyTorch (merged LoRA); the graphs run in float16")
        extra["reference"] = "reference"
    write_manifest(args.out, args.id, args.version, extra)
    inputs = {p.name: sha256(p) for p in (args.codiff_pkl, args.cave_pth)}
    versions = {"torch": torch.__version__, "diffusers": diffusers.__version__, "peft": peft.__version__,
                "onnx": onnx.__version__}
    model_card(args.out, args, inputs, versions)
    print(f"wrote {args.out}; try it: npm run -s unjpeg -- restore --model {args.out} photo.jpg -o restored.jpg")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except ExportError as error:
        print(f"export_codiff: {error}", file=sys.stderr)
        sys.exit(1)
