"""Write tests/fixtures/model-random/: a randomly initialised, tiny compact-CODiff model folder with
reference tensors, for the runtime's parity tests. Deterministic (fixed seed).

  /usr/bin/python3 models/export/make_random_fixture.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))
from codiff_tiny import TINY_RANDOM, CodiffTiny, count_params  # noqa: E402
from onnx_stages import REFERENCE_CASES, export_stages, manifest, write_reference  # noqa: E402

OUT = Path(__file__).resolve().parents[2] / "tests/fixtures/model-random"


def main() -> int:
    torch.manual_seed(0)
    model = CodiffTiny(TINY_RANDOM)
    # Default (unscaled) init everywhere so the residual is large and a wrong runtime step shows.
    for mod in model.modules():
        if hasattr(mod, "reset_parameters") and mod is not model:
            mod.reset_parameters()
    model.eval()
    export_stages(model, OUT)
    manifest(model, OUT, "model-random", "0.0.0-random", {})
    ref = write_reference(model, OUT / "reference", REFERENCE_CASES)
    n = count_params(model) - count_params(model.cave_decoder)
    print(f"wrote {OUT} ({n} parameters)")
    for c in ref["cases"]:
        print(c["name"], c["shapes"]["output_rgb01"], "max |out-in|", round(c["maxAbsChangeOutputVsInput"], 4))
    return 0


if __name__ == "__main__":
    sys.exit(main())
