"""Write tests/fixtures/model-random/: a randomly initialised, tiny compact-CODiff model folder with
reference tensors, for the runtime's parity tests. Deterministic (fixed seed). With --tables, the same
for a model told the compression (extra["tables"]: a `qtables` input on the UNet and the decoder, and
the x2 refinement) in tests/fixtures/model-random-tables/.

  /usr/bin/python3 models/export/make_random_fixture.py [--tables]
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))
from dataclasses import replace  # noqa: E402

from codiff_tiny import TINY_RANDOM, CodiffTiny, count_params  # noqa: E402
from onnx_stages import REFERENCE_CASES, export_stages, manifest, write_reference  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[2] / "tests/fixtures"
TABLES_EXTRA = {"tables": True, "refine": [2, 6, 3], "dec_blocks": 1, "leaky": 0.1}


def main() -> int:
    tables = "--tables" in sys.argv[1:]
    OUT = FIXTURES / ("model-random-tables" if tables else "model-random")
    torch.manual_seed(0)
    model = CodiffTiny(replace(TINY_RANDOM, extra=TABLES_EXTRA) if tables else TINY_RANDOM)
    # Default (unscaled) init everywhere so the residual is large and a wrong runtime step shows.
    for mod in model.modules():
        if hasattr(mod, "reset_parameters") and mod is not model:
            mod.reset_parameters()
    model.eval()
    export_stages(model, OUT)
    manifest(model, OUT, OUT.name, "0.0.0-random", {})
    ref = write_reference(model, OUT / "reference", REFERENCE_CASES)
    n = count_params(model) - count_params(model.cave_decoder)
    print(f"wrote {OUT} ({n} parameters)")
    for c in ref["cases"]:
        print(c["name"], c["shapes"]["output_rgb01"], "max |out-in|", round(c["maxAbsChangeOutputVsInput"], 4))
    return 0


if __name__ == "__main__":
    sys.exit(main())
