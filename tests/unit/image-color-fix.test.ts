import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { adainFix, waveletFix } from "../../lib/image/color-fix.js";

const W = 64;
const H = 48;

/** Interleaved 8-bit input with texture, and its planar [0, 1] copy. */
function input(): { rgb: Uint8Array; planar: Float32Array } {
  const rgb = new Uint8Array(W * H * 3);
  const planar = new Float32Array(W * H * 3);
  for (let i = 0; i < W * H; i++) {
    for (let c = 0; c < 3; c++) {
      const v = Math.round(128 + 60 * Math.sin(i * 0.7 + c) + 30 * Math.cos(i * 0.05));
      rgb[i * 3 + c] = v;
      planar[c * W * H + i] = v / 255;
    }
  }
  return { rgb, planar };
}

function stats(p: Float32Array, c: number): [number, number] {
  const plane = p.subarray(c * W * H, (c + 1) * W * H);
  const mean = plane.reduce((a, b) => a + b, 0) / plane.length;
  const variance = plane.reduce((a, b) => a + (b - mean) ** 2, 0) / plane.length;
  return [mean, Math.sqrt(variance)];
}

describe("colour fixes", () => {
  it("AdaIN gives each channel the input's mean and standard deviation", () => {
    const { rgb, planar } = input();
    const out = planar.map((v, k) => v * (k < W * H ? 0.5 : 1.3) + 0.1); // shifted, rescaled colours
    adainFix(out, rgb, W, H);
    for (let c = 0; c < 3; c++) {
      const [m1, s1] = stats(out, c);
      const [m2, s2] = stats(planar, c);
      assert.ok(Math.abs(m1 - m2) < 1e-4 && Math.abs(s1 - s2) < 1e-4, `channel ${c}`);
    }
  });

  it("the wavelet fix removes a colour cast and keeps the output's fine detail", () => {
    const { rgb, planar } = input();
    // Output = input with a smooth colour cast: the fix must take the low frequencies back from the input.
    const out = planar.map((v, k) => v + 0.2 * Math.sin((k % W) / W));
    waveletFix(out, rgb, W, H);
    let max = 0;
    for (let k = 0; k < out.length; k++) max = Math.max(max, Math.abs(out[k]! - planar[k]!));
    assert.ok(max < 0.02, `cast left: ${max}`);
    // Output = input plus pixel-level detail: the detail survives.
    const detailed = planar.map((v, k) => v + (k % 2 === 0 ? 0.05 : -0.05));
    waveletFix(detailed, rgb, W, H);
    let kept = 0;
    for (let k = 0; k < detailed.length; k++) kept += Math.abs(detailed[k]! - planar[k]!);
    assert.ok(kept / detailed.length > 0.03, `detail kept ${kept / detailed.length}`);
  });
});
