/** The derivative figures `unjpeg eval` reports per quality: bytes against the sources, gain kept, transfer. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type DerivativeResult, errorTransfer, summarizeDerivatives } from "../../lib/eval/derivative.js";

const derivative = (
  bytes: number,
  gainKept: number | null,
  errors: { jpeg: number; restored: number; derivative: number; encoding: number },
  encoding = "jpeg q87 4:2:0 flat prog",
): DerivativeResult => ({
  encoding,
  bytes,
  psnrRgb: 10 * Math.log10((255 * 255) / errors.derivative),
  gainKept,
  squaredErrors: errors,
});

describe("derivative summary", () => {
  it("total bytes over total source bytes, mean gain kept without images that gained nothing, pooled transfer", () => {
    const rows = [
      {
        jpegBytes: 1000,
        derivative: derivative(3000, 0.9, { jpeg: 60, restored: 50, derivative: 51, encoding: 2 }),
      },
      {
        jpegBytes: 3000,
        derivative: derivative(
          6000,
          0.8,
          { jpeg: 40, restored: 30, derivative: 32, encoding: 4 },
          "jpeg q90 4:4:4",
        ),
      },
      {
        jpegBytes: 1000,
        derivative: derivative(2000, null, { jpeg: 20, restored: 21, derivative: 21, encoding: 0 }),
      },
      { jpegBytes: 5000 }, // not measured: left out
    ];
    const { derivative: s } = summarizeDerivatives(rows);
    assert.ok(s !== undefined);
    assert.equal(s.bytesRatio, 11000 / 5000);
    assert.ok(Math.abs(s.gainKept! - 0.85) < 1e-12);
    // (51 + 32 + 21 − 50 − 30 − 21) / (2 + 4 + 0)
    assert.ok(Math.abs(s.errorTransfer! - 3 / 6) < 1e-12);
    assert.deepEqual(s.encodings, { "jpeg q87 4:2:0 flat prog": 2, "jpeg q90 4:4:4": 1 });
    assert.deepEqual(summarizeDerivatives([{ jpegBytes: 1 }]), {});
  });

  it("a lossless derivative has no transfer to report", () => {
    assert.equal(
      errorTransfer([derivative(1, 1, { jpeg: 9, restored: 4, derivative: 4, encoding: 0 }, "png")]),
      null,
    );
  });
});
