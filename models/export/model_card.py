"""MODEL_CARD.md for codiff-tiny, rendered from the exported model, the training log and an evaluation."""

from __future__ import annotations

from datetime import datetime


def _hours(log: list[dict]) -> tuple[str, str, float]:
    times = [datetime.fromisoformat(r["time"]) for r in log if "time" in r]
    if not times:
        return "-", "-", 0.0
    return times[0].isoformat(), times[-1].isoformat(), (times[-1] - times[0]).total_seconds() / 3600


def _eval_table(ev: dict) -> str:
    rows = ["| QF | JPEG PSNR RGB | restored | gain (worst image) | images worse | PSNR Y JPEG → restored | "
            "SSIM Y | PSNR-B Y | CaVE quality MAE |", "|---|---|---|---|---|---|---|---|---|"]
    for q, r in ev["results"].items():
        j, o = r["jpeg"], r["restored"]
        rows.append(f"| {q} | {j['psnr_rgb']:.2f} | {o['psnr_rgb']:.2f} | {r['gain_psnr_rgb']:+.2f} "
                    f"({r['min_image_gain_psnr_rgb']:+.2f}) | {r['images_worse_rgb']} / {ev['images']} | "
                    f"{j['psnr_y']:.2f} → {o['psnr_y']:.2f} | {j['ssim_y']:.4f} → {o['ssim_y']:.4f} | "
                    f"{j['psnrb_y']:.2f} → {o['psnrb_y']:.2f} | {r['cave_mae']:.1f} |")
    return "\n".join(rows)


def _refine_line(log: list[dict]) -> str:
    ends = [r for r in log if r.get("event") == "quality_refine" and r.get("stage") == "end"]
    if not ends:
        return "not run"
    e = ends[-1]
    maes = ", ".join(f"QF {k.split('q')[-1]}: {v:.1f}" for k, v in e.items() if k.startswith("cave_mae_q"))
    return (f"{len(ends)} runs, {e['steps']} steps, {e['seconds'] / 60:.0f} min of training time in all; "
            f"MAE on the held-out pool images (whole, ≤ 768 px) at its end: {maes}")


def _loss_text(log: list[dict]) -> str:
    """L1, then each change of the generator's loss (`train.py --loss`) at the step its run (re)started."""
    parts, current = [], "l1"
    for r in log:
        if r.get("event") != "start" or r.get("phase") != "gen":
            continue
        loss = (r.get("args") or {}).get("loss", "l1")
        if loss != current:
            parts.append(f"from step {r['step']:,} `{loss}`")
            current = loss
    if not parts:
        return "L1 on RGB"
    return ("L1 on RGB, then squared error, PSNR's measure (" + ", ".join(parts) +
            ": `train.py --loss`, scaled so that its gradient has L1's size)")


def _decoder_line(cfg) -> str:
    blocks = cfg.extra.get("dec_blocks", 2)
    tables = cfg.extra.get("tables")
    head = (f"x0 latent + PixelUnshuffle 8 of the JPEG (`skip`)"
            + (" + the JPEG's 8×8 block DCT (Y, Cb, Cr as libjpeg converts) in units of the `qtables` steps "
               "(clamped to ±8, a 1×1 conv)" if tables else "")
            + f" → {blocks} res block{'s' if blocks > 1 else ''} ({cfg.dec_ch} ch"
            + (", modulated by the tables" if tables else "")
            + ") → PixelShuffle 8 residual on the JPEG"
            + (" plus a residual predicted in the DCT domain in units of the steps (inverse DCT back to "
               "pixels), so a coefficient's correction scales with how coarsely it was quantized" if tables else "")
            + ", then ")
    refine = cfg.extra.get("refine")
    if not refine:
        return head + f"a thin full-resolution refinement ({cfg.dec_fullres_ch} ch)"
    s, ch, convs = refine
    return head + (f"a refinement at ×{s}: (coarse, JPEG) PixelUnshuffle {s} → {convs} 3×3 convs ({ch} ch, "
                   f"residual{', table-modulated' if tables else ''}) → PixelShuffle {s} residual; it sees the pixels inside each 8×8 block "
                   f"(ringing, block edges), each conv costing what a {ch // s}-channel full-resolution conv would")


def _warm_start_line(log: list[dict]) -> str:
    lines = []
    for w in (r for r in log if r.get("event") == "warm_start"):
        via = f", via {w['via']}" if w.get("via") and w["via"] != "no trial" else ""
        lines.append(f"- Architecture change at generator step {w.get('step', '?'):,}: {w.get('change', '')}. Warm "
                     f"start from {w['from']}{via}; new tensors: {', '.join(w.get('new_tensors', [])) or 'none'}; "
                     f"widened: {', '.join(w.get('widened_tensors', [])) or 'none'}; "
                     f"removed: {', '.join(w.get('removed_tensors', [])) or 'none'}. The generator then continued "
                     "with its learning-rate schedule restarted.\n")
    return "".join(lines)


def _unet_line(cfg) -> str:
    tables = (" The source's quantization tables (`qtables`, embedded by a small MLP of log2 steps) shift every "
              "token and modulate the ×8 features (FiLM)." if cfg.extra.get("tables") else "")
    return (f"UNet ×8→×16→×32 (widths {'/'.join(map(str, cfg.unet_ch))}), cross-attention to the CaVE tokens at "
            f"×16 and ×32 ({cfg.heads} heads, MatMul+Softmax), fixed timestep 499, ε-prediction with an in-graph "
            f"skip so x0 = latent at initialisation.{tables}")


def _whole_line(rec) -> str:
    if not rec:
        return ""
    gains = ", ".join(f"QF {k.split('q')[-1]}: {v:+.2f} dB" for k, v in rec.items() if k.startswith("whole_gain_q"))
    return (f"\n- Latest check on the 9 held-out images whole ({rec.get('time')}, step {rec.get('step'):,}, "
            f"the moving average): PSNR gain {gains}.")


def _degradation_line(cfg) -> str:
    base = ("- Degradation on the fly: random crops (flips, rotations; 128² in batches of 8, from generator step\n"
            "  22.4 k 192² in batches of 4, from step 67.0 k (the ×2 refinement) 128² in batches of 8 again,\n"
            "  from step 146.5 k 256² in batches of 2: whole photos give the UNet more context than 128² crops), "
            "PIL/libjpeg standard tables at quality 5..95 (75 % in 5..50), 4:2:0\n"
            "  colour or greyscale (15 %), random 0..7 px content shift against the block grid.\n")
    if not cfg.extra.get("tables"):
        return base
    return base + ("- From step 112,945 (the model told the compression): quality 1..95 (70 % in 1..40); IJG tables "
                   "clamped to 8 bits (55 %) or kept 16-bit as plain `cjpeg` writes below QF 25 (15 %), or non-IJG "
                   "tables (30 %: flat, frequency ramps, warped IJG shapes with per-entry noise, at the coarseness "
                   "of the drawn quality); colour 4:2:0 (70 %), 4:4:4 (22 %), 4:2:2 (8 %), or greyscale (15 %); "
                   "12 % of the pairs at QF ≤ 40 re-saved at QF 75..98 after a 0..7 px crop and padded back, fed "
                   "the first compression's tables, as the runtime feeds a re-saved file (`models/training/data.py`). "
                   "Every pair carries its tables, fed as `qtables`.\n")


def _activation_line(cfg) -> str:
    slope = cfg.extra.get("leaky", 0.0)
    if not slope:
        return "Activations: ReLU throughout.\n\n"
    return (f"Activations: ReLU in CaVE; leaky ReLU (slope {slope}) in the generator, because a ReLU in front of a "
            "projection can go silent on every input and then never learns again (see Training).\n\n")


def _bands_section(bands: list) -> str:
    """The weights for the hardest compressions (model.json `bands`): what each band is and how it was made."""
    if not bands:
        return ""
    lines = ["", "## Bands", "",
             "Sources told a quality at most a band's `maxQuality` (the table quality; a re-saved source's earlier "
             "quality) are restored by that band's weights: the same graphs (architecture, CaVE, FLOPs), a generator "
             "fine-tuned on those qualities only. `description.run.band` names the band that ran.", ""]
    for b in bands:
        start = next((r for r in b["log"] if r.get("event") == "warm_start"), None)
        p = b["progress"]
        how = f" {start['change']}." if start and start.get("change") else ""
        lines.append(f"- `{b['name']}/` (quality ≤ {b['maxQuality']}): weights at step {p.get('step', 0):,}, "
                     f"{p.get('phase_step', 0):,} steps after its warm start.{how}"
                     + (f" Log: `{b['log_path']}`." if b["log_path"] else ""))
    return "\n".join(lines) + "\n"


def render_card(man, cfg, params, flops, sizes, progress, log, ev, ref, runtime_notes: str = "",
                log_paths: str = "`models/training/runs/codiff-tiny/log.jsonl`", ema: bool = False,
                bands: list | None = None) -> str:
    start, last, wall_h = _hours(log)
    cave_end = next((r for r in log if r.get("event") == "phase_end"), None)
    vals = [r for r in log if r.get("event") in ("val", "phase_end")]
    last_val = vals[-1] if vals else None
    wholes = [r for r in log if r.get("event") == "val_whole"]
    last_whole = wholes[-1] if wholes else None
    total_params = sum(params.values())
    mb = sum(sizes.values()) / 1e6

    def cave_line(rec):
        if not rec:
            return "not reached yet"
        return ", ".join(f"QF {k.split('q')[-1]}: {v:.1f}" for k, v in rec.items() if k.startswith("cave_mae_q"))

    def gain_line(rec):
        if not rec:
            return "-"
        return ", ".join(f"QF {k.split('q')[-1]}: {v:+.2f} dB" for k, v in rec.items()
                         if k.startswith("psnr_gain_q"))

    eval_part = (f"LIVE1 (29 colour images, `{ev['set']}`), compressed by PIL/libjpeg with standard tables, "
                 f"4:2:0; checkpoint step {ev['progress'].get('step')}"
                 + ("; the folder's own weights (the band's: Bands, below)" if bands else "") + "; measured with "
                 "`/usr/bin/python3 models/training/eval.py --json ...` (PyTorch, whole images, output rounded "
                 "to 8 bits; PSNR-B and SSIM on Y):\n\n" + _eval_table(ev)
                 + "\n\nCaVE quality estimate on LIVE1, mean absolute error per JPEG quality: "
                 + ", ".join(f"QF {q}: {v:.1f}" for q, v in ev.get("cave_mae", {}).items())
                 + ".") if ev else "Not evaluated yet."
    return f"""# codiff-tiny {man['version']}

A compact model with the structure of CODiff (Guo et al., ICCV 2025: CaVE compression-aware embedder +
one-step latent "diffusion" generator), trained from scratch on this project's machines because the
official weights cannot be downloaded here. It removes JPEG artifacts (blocking, ringing) from photos on
a CPU. It is **not** the official CODiff: no Stable Diffusion weights, no generative prior; it is trained
for fidelity (L1, then squared error), so it restores by smoothing block artifacts and sharpening edges,
it does not invent texture. Same manifest and stage contract as the official export (see `docs/CONTRACTS.md`).

## Architecture

| stage | file | parameters | GFLOP per megapixel | what |
|---|---|---|---|---|
| cave | `cave.onnx` ({sizes['cave.onnx'] / 1e6:.1f} MB) | {params['cave']:,} | {flops['cave']:.1f} | 8×8-block transform (PixelUnshuffle 8 + 1×1 conv), residual conv blocks at ×8/×16/×32 (widths {'/'.join(map(str, cfg.cave_ch))}), tokens on the ×32 grid projected to {cfg.token_dim} + an embedding of the predicted quality; quality head: MLP (sigmoid·100) over pooled deep features, the log energy of the block transform, and fixed luma statistics (8×8 DCT log energy per frequency; for 16 candidate IJG qualities, how closely the DCT coefficients sit on that quality's quantisation lattice, over all coefficients and over those non-zero on it, and the share of those) |
| vaeEncoder | `vae_encoder.onnx` ({sizes['vae_encoder.onnx'] / 1e6:.1f} MB) | {params['vae_encoder']:,} | {flops['vae_encoder']:.1f} | PixelUnshuffle 8 → {cfg.enc_ch} ch → {cfg.latent_ch}-channel latent at ×8 (one latent pixel per JPEG block), ×0.18215 |
| unet | `unet.onnx` ({sizes['unet.onnx'] / 1e6:.1f} MB) | {params['unet']:,} | {flops['unet']:.1f} | {_unet_line(cfg)} |
| vaeDecoder | `vae_decoder.onnx` ({sizes['vae_decoder.onnx'] / 1e6:.1f} MB) | {params['vae_decoder']:,} | {flops['vae_decoder']:.1f} | {_decoder_line(cfg)} |
| **total** | {mb:.1f} MB | **{total_params:,}** | **{flops['total']:.1f}** | |

{_activation_line(cfg)}FLOPs count 2 × multiply-adds of convolutions, linear layers and attention at a 512×512 input
(`flops_per_megapixel` in `models/training/codiff_tiny.py`); the attention term grows with the token
count (whole image's tokens for every tile). No normalisation layer uses image-wide statistics
(LayerNorm per token only), so a tile's result depends only on its neighbourhood and the tokens.
Runtime steps (pad 32 edge bottom/right, x0 formula between unet and decoder, clamp, crop) are in
`model.json` and `tests/fixtures/model-random/README.md`. `colorFix: none`.

## Training

- Data: the training pool `../shared/data/train`, 335 images (BSDS500 train+val 232, RealSR NTIRE19
  validation 16, McMaster 18, IRCNN Val20, Set14 subset 7, classic test images 6, Debian package photos
  36), 9 images held out for monitoring. Never the benchmark sets (LIVE1, Classic5).
- Terms: the research sets are customarily used for research with citation (LIVE: Sheikh et al.; BSDS500:
  Arbeláez et al. 2011; McMaster: Zhang et al. 2011; Waterloo: Ma et al. 2017; RealSR: Cai et al. 2019;
  Set14 / classic test images per their sources). The Debian photographs are CC-BY-4.0, CC-BY-SA-3.0/4.0,
  CC0, GPL-2+ or public domain per their packages' copyright files (lomiri-wallpapers, mate-backgrounds,
  plasma-workspace-wallpapers, palapeli-data, python3-skimage; authors in the lomiri file names). Users
  redistributing these weights should carry these attributions.
{_degradation_line(cfg)}- Schedule: CaVE alone first (dual learning: L1 reconstruction through a training-only decoder + 2 ×
  L1 quality error on a 0..1 scale) for 40 min of training time (lr cosine-annealed to a tenth over it), then CaVE frozen and the generator
  trained end to end through the x0 formula with {_loss_text(log)}. Adam, lr 4e-4 (100-step warm-up, halved
  every 20 k steps of the phase; every 40 k before step 22.4 k; the warm-started runs from 2e-4, the last
  part from 1e-4, see the logs' `lr`), gradient clip 1, He init, output layers started small (not zero). Torch 1.13
  CPU, 2 threads (`OMP_WAIT_POLICY=PASSIVE`) on a 2-core machine shared with other work.
- Second CaVE phase (`models/training/refine_quality.py`, after generator step 35.1 k): the first phase
  saw only 128-px crops, where every ×32 feature touches a border, and on whole photos the head
  over-estimated low qualities (LIVE1 QF 5 read as 18). Only the quality head (its residual block and
  MLP, whose first layer restarted for the added lattice features) was retrained, on crops of 96..512 px
  padded like the runtime, QF 5..95 (80 % ≤ 60), L1 on the quality; features, token projection and
  quality embedding stayed frozen, and the generator then continued on the refined CaVE:
  {_refine_line(log)}.
{_warm_start_line(log)}- Two earlier attempts were discarded (in `scratch/`, not committed): with PyTorch's default init and a
  purely learned quality head, the head stayed at the mean (MAE ≈ 19) for 1000 steps.
- Progress of this export: step {progress.get('step')} ({progress.get('phase')} phase, {progress.get('phase_step')} steps in it),
  {progress.get('train_s', 0) / 3600:.2f} h of training compute; log from {start} to {last}
  ({wall_h:.2f} h wall-clock), {log_paths}.
- CaVE quality MAE on held-out training-pool crops at the end of its phase: {cave_line(cave_end)}.
- Latest held-out crop check ({last_val.get('time') if last_val else '-'}): PSNR gain {gain_line(last_val)};
  CaVE MAE {cave_line(last_val)}.{_whole_line(last_whole)}
- Weights: {"the exponential moving average of the weights (`train.py --ema-decay 0.9995`, about the last 2,000 steps; `export_tiny.py --ema`)" if ema else "the raw weights of the checkpoint"}.

## Results

{eval_part}

Parity: `reference/` holds two synthetic cases (48×40 at QF 10, 70×53 at QF 30) with the input and every
stage's PyTorch output as raw float32; `node models/export/check_onnx.mjs models/codiff-tiny` runs the
ONNX graphs through onnxruntime-node the way the runtime must and compares (max abs diff of the final
output: below 1e-5 expected).

Speed: {flops['total']:.1f} GFLOP per megapixel; at the ~55 GFLOP/s onnxruntime reaches for 3×3 convolutions on
2 cores that bounds it near {55 / flops['total']:.1f} MP/s. One indicative measurement (step-2292 export, same graphs
and FLOPs; onnxruntime-node, 2 intra-op threads, a 1024×1024 input, the four stages back to back, on
the shared 2-core development machine): 0.73 s when the machine was calm (about 1.4 MP/s), 3–4 s while
other jobs loaded it. The runtime's benchmark in `bench/` is the reference figure.
{_bands_section(bands or [])}{runtime_notes}
## Limits

- Trained for hours on a 2-core CPU, from scratch, on 326 images: far from FBCNN (70 M parameters)
  and from the official CODiff; gains are largest at low qualities and small at QF ≥ 40.
- Compute: {flops['total']:.1f} GFLOP per megapixel (the runtime's quantization-constraint projection adds
  well under 1), {'within' if flops['total'] <= 45 else 'above'} the budget of 45 set for the whole model; the ×2 refinement costs
  {flops.get('vae_decoder.refine', 0.0):.1f} of the decoder's {flops['vae_decoder']:.1f}, the UNet (×8..×32) {flops['unet']:.1f}.
  `models/training/ablate.py` shows what each stage adds.
- Fidelity-trained (L1, squared error): outputs are smoother than the originals; no perceptual/GAN loss.
- CaVE's quality estimate comes from content statistics; for IJG-scaled tables the table estimate of
  `lib/jpeg` is exact and should be preferred for reporting.
- Images much larger than the training crops are handled through the ×32 token grid and tiling; the
  result of a tile depends on its neighbourhood (receptive field of the ×32 UNet level), so tiles should
  overlap by the suggested `tiling.overlap`.
- Chroma: {'trained with 4:2:0, 4:2:2, 4:4:4 colour and greyscale JPEGs.' if cfg.extra.get('tables') else 'trained with 4:2:0 colour and greyscale JPEGs; 4:4:4 sources were not in training.'}
"""
