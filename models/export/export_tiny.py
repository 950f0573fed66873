"""Export the trained compact CODiff checkpoint to models/codiff-tiny/ (model folder + model card).

  /usr/bin/python3 models/export/export_tiny.py [--weights W] [--eval models/codiff-tiny/eval/LIVE1.json]

Writes model.json, the four ONNX stages, reference/ (parity fixtures, raw float32) and MODEL_CARD.md
(architecture, parameters, FLOPs per megapixel, training progress from the log, evaluation if given).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))
from codiff_tiny import CURRENT_RUN, RUN_LOGS, count_params, flops_per_megapixel, load_checkpoint  # noqa: E402
from model_card import render_card  # noqa: E402
from onnx_stages import REFERENCE_CASES, export_stages, manifest, write_reference  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--weights", default=str(CURRENT_RUN / "weights.pt"))
    p.add_argument("--ema", action="store_true", help="the weights' moving average (train.py keeps it) instead of the raw weights")
    p.add_argument("--log", nargs="+", default=[str(p) for p in RUN_LOGS],
                   help="training logs in order (a warm-started run after the run it started from)")
    p.add_argument("--out", default=str(REPO / "models/codiff-tiny"))
    p.add_argument("--eval", default="", help="results JSON written by models/training/eval.py --json")
    p.add_argument("--version", default="")
    p.add_argument("--encode-error-transfer", type=float, default=None,
                   help="the model's encodeErrorTransfer in model.json: the 'error transfer' `unjpeg eval` "
                        "reports for this model at QF 10 and 40 (the lower). Default: the value in the "
                        "model.json being replaced, else none (1); re-measure for every new model")
    p.add_argument("--band", action="append", default=[], metavar="NAME:MAX_QUALITY:WEIGHTS[:LOG]",
                   help="weights for the hardest compressions (model.json `bands`): exported into <out>/NAME with "
                        "the same id and version, used for sources told a quality <= MAX_QUALITY; LOG: its "
                        "training log for the card. Repeat in increasing MAX_QUALITY")
    p.add_argument("--runtime-notes", default="",
                   help="markdown file appended to Results: figures measured with the TypeScript runtime")
    args = p.parse_args(argv)
    torch.set_num_threads(1)

    model, progress = load_checkpoint(args.weights, ema=args.ema)
    cfg = model.cfg
    out = Path(args.out)
    version = args.version or f"0.1.{progress.get('step', 0)}"
    # Read before the export overwrites it: a re-export keeps the measured transfer until it is re-measured.
    transfer = args.encode_error_transfer
    if transfer is None and (out / "model.json").exists():
        transfer = json.loads((out / "model.json").read_text()).get("encodeErrorTransfer")
    export_stages(model, out)
    extra = {"reference": "reference"}
    if transfer is not None:
        if not 0 < transfer <= 1:
            raise SystemExit(f"--encode-error-transfer must be in (0, 1], got {transfer}")
        extra = {"encodeErrorTransfer": transfer, **extra}
        print(f"encodeErrorTransfer {transfer}: check it with `unjpeg eval` (its 'error transfer' column)")
    bands = [export_band(spec, out, version, extra, args.ema, model) for spec in args.band]
    if bands:
        extra = {**extra, "bands": [{"maxQuality": b["maxQuality"], "model": b["name"]} for b in bands]}
    man = manifest(model, out, "codiff-tiny", version, extra)
    ref = write_reference(model, out / "reference", REFERENCE_CASES)

    params = {"cave": count_params(model.cave), "vae_encoder": count_params(model.gen.vae_encoder),
              "unet": count_params(model.gen.unet), "vae_decoder": count_params(model.gen.vae_decoder)}
    flops = flops_per_megapixel(model)
    sizes = {f: (out / f).stat().st_size for f in man["sha256"]}
    log = [record for path in args.log for record in read_log(path)]
    log_paths = ", ".join(f"`{Path(path).resolve().relative_to(REPO)}`" for path in args.log)
    ev = json.loads(Path(args.eval).read_text()) if args.eval else None
    notes = "\n" + Path(args.runtime_notes).read_text() if args.runtime_notes else ""
    (out / "MODEL_CARD.md").write_text(render_card(man, cfg, params, flops, sizes, progress, log, ev, ref, notes,
                                                       log_paths, ema=args.ema, bands=bands))
    print(f"exported {out} version {version}: {sum(params.values())} parameters, "
          f"{flops['total']:.1f} GFLOP/MP, {sum(sizes.values()) / 1e6:.1f} MB")
    return 0


def read_log(path: str) -> list[dict]:
    """A training log (train.py's log.jsonl): one record per line."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def export_band(spec: str, out: Path, version: str, extra: dict, ema: bool, main_model) -> dict:
    """One band's model folder inside `out` (same id and version as the main folder), with its own parity
    fixtures; the band must share the main model's architecture and CaVE (only the generator differs)."""
    name, max_quality, weights, *log = spec.split(":")
    model, progress = load_checkpoint(weights, ema=ema)
    if model.cfg != main_model.cfg:
        raise SystemExit(f"--band {name}: its config differs from the main weights'")
    main_cave, band_cave = main_model.cave.state_dict(), model.cave.state_dict()
    if any(not torch.equal(main_cave[k], band_cave[k]) for k in main_cave):
        raise SystemExit(f"--band {name}: its CaVE differs from the main weights' (train only the generator)")
    folder = out / name
    export_stages(model, folder)
    manifest(model, folder, "codiff-tiny", version, extra)
    write_reference(model, folder / "reference", REFERENCE_CASES)
    return {"name": name, "maxQuality": float(max_quality) if "." in max_quality else int(max_quality),
            "progress": progress, "log": read_log(log[0]) if log else [],
            "log_path": str(Path(log[0]).resolve().relative_to(REPO)) if log else ""}


if __name__ == "__main__":
    sys.exit(main())
