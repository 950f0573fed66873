"""Smoke run of export_codiff.py's own code with stand-ins for what is missing here (diffusers, peft, the
CODiff checkout and its weights): tiny fake classes with the same method names and parameter naming, a
fake codiff.pkl and cave.pth. It catches mistakes in the exporter's glue (argument handling, LoRA
attach/copy/merge bookkeeping, wrappers, export, manifest); it says nothing about the real classes.

  /usr/bin/python3 models/export/official/smoke_export.py [OUT]     (default: a temporary folder)
"""

from __future__ import annotations

import sys
import tempfile
import types
from pathlib import Path

import torch
import torch.nn as nn

HERE = Path(__file__).resolve().parent


# --- peft stand-in: LoRA on Linear layers, parameter names as peft writes them ---------------------------
class BaseTunerLayer:
    pass


class LoraLinear(nn.Module, BaseTunerLayer):
    def __init__(self, base: nn.Linear):
        super().__init__()
        self.base_layer = base
        self.lora_A, self.lora_B = nn.ModuleDict(), nn.ModuleDict()
        self.scaling: dict[str, float] = {}
        self.active: list[str] = []

    def add(self, name: str, r: int, alpha: int = 8) -> None:
        self.lora_A[name] = nn.Linear(self.base_layer.in_features, r, bias=False)
        self.lora_B[name] = nn.Linear(r, self.base_layer.out_features, bias=False)
        self.scaling[name] = alpha / r

    def forward(self, x):
        out = self.base_layer(x)
        for name in self.active:
            out = out + self.lora_B[name](self.lora_A[name](x)) * self.scaling[name]
        return out

    def merge(self):
        with torch.no_grad():
            for name in self.active:
                self.base_layer.weight += self.scaling[name] * self.lora_B[name].weight @ self.lora_A[name].weight

    def get_base_layer(self):
        return self.base_layer


class LoraConfig:
    def __init__(self, r, init_lora_weights, target_modules):
        self.r, self.target_modules = r, target_modules


class AdapterMixin:
    def add_adapter(self, config: LoraConfig, adapter_name: str) -> None:
        for parent in list(self.modules()):
            for name, child in list(parent.named_children()):
                if name in config.target_modules:
                    if not isinstance(child, LoraLinear):
                        child = LoraLinear(child)
                        setattr(parent, name, child)
                    child.add(adapter_name, config.r)

    def set_adapter(self, names: list[str]) -> None:
        for module in self.modules():
            if isinstance(module, LoraLinear):
                module.active = [n for n in names if n in module.lora_A]

    def set_attn_processor(self, processor) -> None:
        self.processor = processor


# --- diffusers stand-in ----------------------------------------------------------------------------------
class FakeUNet(nn.Module, AdapterMixin):
    def __init__(self):
        super().__init__()
        self.conv_in = nn.Conv2d(4, 8, 3, padding=1)
        self.to_q = nn.Linear(8, 8)
        self.to_k = nn.Linear(1024, 8)
        self.conv_out = nn.Conv2d(8, 4, 3, padding=1)

    @classmethod
    def from_pretrained(cls, path, subfolder):
        torch.manual_seed(1)
        return cls()

    def forward(self, sample, timestep, encoder_hidden_states, return_dict=True):
        h = self.conv_in(sample) + timestep.float().reshape(-1, 1, 1, 1) / 1000
        q = self.to_q(h.flatten(2).transpose(1, 2))
        k = self.to_k(encoder_hidden_states)
        a = torch.softmax(q @ k.transpose(1, 2), -1) @ k
        h = h + a.transpose(1, 2).reshape(h.shape)
        return (self.conv_out(h),)


class Latents:
    def __init__(self, moments):
        self.mean, self.logvar = moments.chunk(2, dim=1)

    def mode(self):
        return self.mean


class FakeVae(nn.Module, AdapterMixin):
    def __init__(self):
        super().__init__()
        self.down = nn.Conv2d(3, 8, 8, stride=8)
        self.mix = nn.Linear(8, 8)
        self.up = nn.ConvTranspose2d(4, 3, 8, stride=8)

    @classmethod
    def from_pretrained(cls, path, subfolder):
        torch.manual_seed(2)
        return cls()

    def encode(self, x):
        h = self.down(x)
        h = self.mix(h.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return types.SimpleNamespace(latent_dist=Latents(h))

    def decode(self, latent, return_dict=True):
        return (self.up(latent),)


class FakeCaVE(nn.Module):
    def __init__(self, in_nc, out_nc, nc, nb, act_mode):
        super().__init__()
        self.enc = nn.Conv2d(3, nc[-1], 32, stride=32)
        self.qf = nn.Linear(nc[-1], 1)

    def get_visual_embedding(self, x):
        return self.enc(x).flatten(2).transpose(1, 2)

    def forward(self, x):
        h = self.enc(x)
        return x, torch.sigmoid(self.qf(h.mean(dim=(2, 3))))


def install_stand_ins(repo: Path) -> None:
    peft = types.ModuleType("peft")
    peft.LoraConfig, peft.__version__ = LoraConfig, "stand-in"
    tuners = types.ModuleType("peft.tuners")
    tuners_utils = types.ModuleType("peft.tuners.tuners_utils")
    tuners_utils.BaseTunerLayer = BaseTunerLayer
    diffusers = types.ModuleType("diffusers")
    diffusers.UNet2DConditionModel, diffusers.AutoencoderKL, diffusers.__version__ = FakeUNet, FakeVae, "stand-in"
    models = types.ModuleType("diffusers.models")
    attention = types.ModuleType("diffusers.models.attention_processor")
    attention.AttnProcessor = object
    sys.modules.update({"peft": peft, "peft.tuners": tuners, "peft.tuners.tuners_utils": tuners_utils,
                        "diffusers": diffusers, "diffusers.models": models,
                        "diffusers.models.attention_processor": attention})
    (repo / "cave").mkdir(parents=True)
    (repo / "cave" / "__init__.py").write_text("")
    (repo / "cave" / "cave.py").write_text("from smoke_export import FakeCaVE as CaVE\n")


def fake_weights(work: Path) -> tuple[Path, Path]:
    torch.manual_seed(3)
    cave = FakeCaVE(3, 3, [64, 128, 256, 512], 4, "BR")
    torch.save(cave.state_dict(), work / "cave.pth")
    unet, vae = FakeUNet(), FakeVae()
    unet.add_adapter(LoraConfig(4, "gaussian", ["to_q"]), "default_encoder")
    vae.add_adapter(LoraConfig(4, "gaussian", ["mix"]), "default_encoder")
    for model in (unet, vae):  # trained LoRA weights are not zero
        for name, p in model.named_parameters():
            if "lora_" in name:
                nn.init.normal_(p, std=0.1)
    ckpt = {
        "unet_lora_encoder_modules": ["to_q"], "rank_unet": 4,
        "vae_lora_encoder_modules": ["mix"], "rank_vae": 4,
        "state_dict_unet": {k: v for k, v in unet.state_dict().items() if "lora" in k or "conv_in" in k},
        "state_dict_vae": {k: v for k, v in vae.state_dict().items() if "lora" in k},
        "proj": nn.Linear(512, 1024).state_dict(),
    }
    torch.save(ckpt, work / "codiff.pkl")
    return work / "codiff.pkl", work / "cave.pth"


def main(argv: list[str]) -> int:
    work = Path(tempfile.mkdtemp(prefix="codiff-smoke-"))
    out = Path(argv[0]) if argv else work / "model"
    sys.path.insert(0, str(HERE))
    install_stand_ins(work / "repo")
    pkl, pth = fake_weights(work)
    import export_codiff

    return export_codiff.main(["--codiff-repo", str(work / "repo"), "--sd", str(work / "sd"), "--codiff-pkl", str(pkl),
                               "--cave-pth", str(pth), "--out", str(out), "--id", "codiff-smoke", "--reference"])


if __name__ == "__main__":
    sys.modules.setdefault("smoke_export", sys.modules["__main__"])
    sys.exit(main(sys.argv[1:]))
