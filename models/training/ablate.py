"""How much each part of the generator adds: held-out PSNR gain with a part switched off.

  /usr/bin/python3 models/training/ablate.py [--weights runs/<run>/weights.pt] [--qualities 10,30]

Switching off = zeroing the part's output layer, which the architecture turns into identity: UNet off
gives x0 = latent, refinement off passes the coarse decoder output through, tokens zero removes CaVE's
conditioning (cross-attention sees zero tokens), tables off (a model told the compression) zeroes every
path the quantization tables take (token shift, modulations, the DCT input and the DCT-domain residual),
and "tables of QF 50" feeds the IJG tables of quality 50 whatever the source's were. Uses the held-out crops of train.py's split (never the
benchmark sets); the sample differs from the training log's validation, so compare rows with each other.
Shows where the FLOPs pay off, before moving them between stages. Then, for every generator layer
that follows an activation, the share of its inputs that are non-zero: a layer near 0 % is fed by silent
units, which get no gradient (how the first run lost its whole latent path).
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from codiff_tiny import CURRENT_RUN, CodiffTiny, flops_per_megapixel, load_checkpoint  # noqa: E402
from data import ijg_tables, load_pool, validation_set  # noqa: E402
from train import validate  # noqa: E402


def zero_(layer: torch.nn.Module) -> None:
    layer.weight.zero_()
    layer.bias.zero_()


def zero_tokens(model: CodiffTiny) -> None:
    forward = model.cave.forward

    def no_tokens(rgb01):
        tokens, quality = forward(rgb01)
        return torch.zeros_like(tokens), quality

    model.cave.forward = no_tokens


def tables_off(model: CodiffTiny) -> None:
    unet, dec = model.gen.unet, model.gen.vae_decoder
    for layer in (unet.tok_add, unet.film8, dec.dct_in, dec.film, dec.to_dct, dec.refine.film):
        zero_(layer)


def tables_of_q50(model: CodiffTiny) -> None:
    forward = model.gen.forward
    q50 = torch.tensor([ijg_tables(50)], dtype=torch.float32)

    def fixed_tables(rgb01, tokens, qtables=None):
        return forward(rgb01, tokens, q50.expand(rgb01.shape[0], -1, -1))

    model.gen.forward = fixed_tables


PARTS = {
    "unet off (x0 = latent)": lambda m: zero_(m.gen.unet.out),
    "refinement off": lambda m: zero_(m.gen.vae_decoder.refine.out if m.gen.vae_decoder.refine is not None
                                      else m.gen.vae_decoder.ref2),
    "CaVE tokens zero": zero_tokens,
}
TABLE_PARTS = {"tables off": tables_off, "tables of QF 50": tables_of_q50}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default=str(CURRENT_RUN / "weights.pt"))
    p.add_argument("--ema", action="store_true", help="the weights' moving average (train.py keeps it) instead of the raw weights")
    p.add_argument("--data", default="/work/shared/data/train")
    p.add_argument("--qualities", default="10,30")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    loaded, progress = load_checkpoint(args.weights, ema=args.ema)
    cfg = loaded.cfg
    run = Path(args.weights).parent
    pool = load_pool(args.data, run / "scratch/pool.npz", min_side=144)
    held = [im for i, im in enumerate(pool) if i % 40 == 7]
    val = validation_set(held, 128, [int(q) for q in args.qualities.split(",")], per_q=16, seed=123)

    def model() -> CodiffTiny:  # a fresh copy for each variant to edit
        return copy.deepcopy(loaded)

    flops = flops_per_megapixel(model())
    print(f"{args.weights} step {progress['step']}; GFLOP/MP: "
          + ", ".join(f"{k} {v:.1f}" for k, v in flops.items()))
    qs = args.qualities.split(",")
    print("| variant | " + " | ".join(f"gain QF {q}, dB" for q in qs) + " |")
    print("|---|" + "---|" * len(qs))
    parts = {**PARTS, **(TABLE_PARTS if cfg.extra.get("tables") else {})}
    for name, edit in [("full model", lambda m: None), *parts.items()]:
        m = model()
        with torch.no_grad():
            edit(m)
        res = validate(m, val, "cpu")
        print(f"| {name} | " + " | ".join(f"{res[f'psnr_gain_q{q}']:+.3f}" for q in qs) + " |", flush=True)
    print_activity(model(), val[int(qs[0])])
    return 0


@torch.no_grad()
def print_activity(model: CodiffTiny, sample) -> None:
    """Share of positive inputs of each generator conv/linear (meaningful where an activation feeds it)."""
    shares: dict[str, float] = {}

    def hook(name):
        def h(mod, inp, out):
            shares[name] = float((inp[0] > 0).float().mean())
        return h

    for name, mod in model.gen.named_modules():
        if isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear)):
            mod.register_forward_hook(hook(name))
    x = torch.from_numpy(sample[1])
    tokens, _ = model.cave(x)
    model.gen(x, tokens, torch.from_numpy(sample[2]) if model.takes_tables else None)
    print("\n| generator layer | inputs > 0 |\n|---|---|")
    for name, share in shares.items():
        print(f"| {name} | {share * 100:.1f} %{' (silent?)' if share < 0.05 else ''} |")


if __name__ == "__main__":
    sys.exit(main())
