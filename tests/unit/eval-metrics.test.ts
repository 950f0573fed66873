/** The evaluation metrics on known values: closed forms, and numbers from models/training/eval.py. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ImageResult } from "../../lib/eval/evaluate.js";
import {
  blockingEffectFactor,
  gaussianWindow,
  imageMetrics,
  psnr,
  psnrB,
  rgbToY,
  ssim,
} from "../../lib/eval/metrics.js";
import { summarize } from "../../lib/eval/summary.js";

const close = (actual: number, expected: number, tolerance: number, what = "") =>
  assert.ok(
    Math.abs(actual - expected) <= tolerance,
    `${what} ${actual} is not within ${tolerance} of ${expected}`,
  );

/** The 24×20 pair eval.py was run on: a textured plane and a perturbed copy, blockier every other 8 columns. */
function referencePair(): { a: Float64Array; b: Float64Array; w: number; h: number } {
  const w = 24;
  const h = 20;
  const a = new Float64Array(w * h);
  const b = new Float64Array(w * h);
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      const v = (i * 37 + j * 91 + ((i * j) % 13)) % 256;
      a[i * w + j] = v;
      b[i * w + j] = Math.min(
        255,
        Math.max(0, v + (((i * 7 + j * 3) % 11) - 5) + 6 * (Math.floor(j / 8) % 2)),
      );
    }
  }
  return { a, b, w, h };
}

describe("rgbToY (BT.601, MATLAB rgb2ycbcr)", () => {
  it("maps black to 16, white to 235, red to 16 + 65.481", () => {
    const y = rgbToY(Uint8Array.of(0, 0, 0, 255, 255, 255, 255, 0, 0));
    close(y[0]!, 16, 1e-12);
    close(y[1]!, 235, 1e-9);
    close(y[2]!, 81.481, 1e-9);
  });
  it("agrees with eval.py's to_y", () => {
    // eval.py: to_y of (56, 54, 55) = 62.987952941176474
    close(rgbToY(Float64Array.of(56, 54, 55))[0]!, 62.987952941176474, 1e-9);
  });
  it("refuses a length that is not RGB", () => {
    assert.throws(() => rgbToY(new Uint8Array(4)), RangeError);
  });
});

describe("psnr", () => {
  it("is 10·log10(255²) for a mean squared error of 1, 0 dB at 255², infinite when equal", () => {
    close(psnr(new Uint8Array(64), new Uint8Array(64).fill(1)), 10 * Math.log10(65025), 1e-12);
    close(psnr(new Uint8Array(8), new Uint8Array(8).fill(255)), 0, 1e-12);
    assert.equal(psnr(Uint8Array.of(3, 4), Uint8Array.of(3, 4)), Number.POSITIVE_INFINITY);
  });
  it("agrees with eval.py", () => {
    const { a, b } = referencePair();
    close(psnr(a, b), 34.843610667728996, 1e-9);
  });
  it("refuses planes of different sizes", () => {
    assert.throws(() => psnr(new Uint8Array(3), new Uint8Array(4)), RangeError);
  });
});

describe("ssim (Gaussian 11×11, σ 1.5)", () => {
  it("has the window of cv2.getGaussianKernel(11, 1.5)", () => {
    const g = gaussianWindow();
    close(
      g.reduce((s, v) => s + v, 0),
      1,
      1e-15,
    );
    close(g[5]!, 0.26601172486179436, 1e-15);
    close(g[0]!, 0.00102838008447911, 1e-15);
  });
  it("is 1 for identical planes", () => {
    const { a, w, h } = referencePair();
    close(ssim(a, a, w, h), 1, 1e-12);
  });
  it("is the luminance term alone for two flat planes", () => {
    const c1 = (0.01 * 255) ** 2;
    const expected = (2 * 100 * 110 + c1) / (100 ** 2 + 110 ** 2 + c1);
    close(ssim(new Float64Array(256).fill(100), new Float64Array(256).fill(110), 16, 16), expected, 1e-12);
  });
  it("agrees with eval.py", () => {
    const { a, b, w, h } = referencePair();
    close(ssim(a, b, w, h), 0.9981997993442618, 1e-12);
  });
  it("refuses planes under the window size", () => {
    assert.throws(() => ssim(new Uint8Array(100), new Uint8Array(100), 10, 10), RangeError);
  });
});

describe("psnrB (Yim & Bovik 2011)", () => {
  it("finds the blocking of two flat 8-wide halves: log2 8 / log2 16 × mean boundary difference", () => {
    const plane = new Float64Array(16 * 16);
    for (let y = 0; y < 16; y++) for (let x = 8; x < 16; x++) plane[y * 16 + x] = 1;
    // 16 unit differences over 16 + 16 boundary pairs, none inside blocks.
    close(blockingEffectFactor(plane, 16, 16), (3 / 4) * 0.5, 1e-15);
  });
  it("is 0 for a ramp (boundaries no rougher than the rest), so PSNR-B equals PSNR", () => {
    const ramp = Float64Array.from({ length: 16 * 16 }, (_, i) => (i % 16) * 10);
    assert.equal(blockingEffectFactor(ramp, 16, 16), 0);
    const shifted = ramp.map((v) => v + 3);
    close(psnrB(ramp, shifted, 16, 16), psnr(ramp, shifted), 1e-12);
  });
  it("is below PSNR when the tested image is blocky", () => {
    const flat = new Float64Array(16 * 16).fill(128);
    const blocky = flat.map((v, i) => (i % 16 >= 8 ? v + 8 : v));
    assert.ok(psnrB(flat, blocky, 16, 16) < psnr(flat, blocky));
  });
  it("agrees with eval.py", () => {
    const { a, b, w, h } = referencePair();
    close(psnrB(a, b, w, h), 12.586043602885331, 1e-9);
  });
});

describe("imageMetrics", () => {
  it("measures luma of colour images and the grey values of grey ones", () => {
    const w = 16;
    const h = 16;
    const ref = new Uint8Array(w * h * 3).fill(100);
    const test = new Uint8Array(w * h * 3).fill(104);
    const colour = imageMetrics(ref, test, w, h);
    const grey = imageMetrics(ref, test, w, h, true);
    close(colour.psnrRgb, 10 * Math.log10(65025 / 16), 1e-12);
    close(grey.psnrY, 10 * Math.log10(65025 / 16), 1e-12);
    // Y scales a grey step by 219/255.
    close(colour.psnrY, 10 * Math.log10(65025 / (4 * (219 / 255)) ** 2), 1e-9);
  });
});

describe("summarize", () => {
  const row = (
    image: string,
    quality: number,
    jpeg: number,
    restored: number,
    predicted: number | null,
    extra: Partial<Pick<ImageResult, "projection" | "butteraugli">> = {},
  ) => {
    const m = (p: number) => ({ psnrRgb: p, psnrY: p + 1, ssimY: p / 100, psnrbY: p - 1 });
    return {
      image,
      quality,
      width: 100,
      height: 50,
      grey: false,
      jpegBytes: 1000,
      jpeg: m(jpeg),
      restored: m(restored),
      gain: { psnrRgb: restored - jpeg, psnrY: restored - jpeg },
      predictedQuality: predicted,
      model: "m@1",
      band: null,
      restoreMs: 500,
      projection: null,
      butteraugli: null,
      ...extra,
    } satisfies ImageResult;
  };
  it("means per quality, the worst image, images made worse, CaVE's error and throughput", () => {
    const [s10, s30] = summarize(
      [row("a", 10, 25, 27, 12), row("b", 10, 27, 26.5, 7), row("a", 30, 30, 31, null)],
      [10, 30, 40],
    );
    assert.ok(s10 !== undefined && s30 !== undefined);
    assert.equal(s10.images, 2);
    close(s10.jpeg.psnrRgb, 26, 1e-12);
    close(s10.gain.psnrRgb, 0.75, 1e-12);
    assert.deepEqual(s10.worstGain, { psnrRgb: -0.5, image: "b" });
    assert.equal(s10.imagesWorse, 1);
    close(s10.caveMae ?? Number.NaN, 2.5, 1e-12);
    close(s10.megapixelsPerSecond, 0.01 / 1, 1e-12);
    assert.equal(s30.caveMae, null);
  });
  it("means butteraugli and the projection's clipped share only where every image has them", () => {
    const applied = (clipped: number) => ({ projection: { applied: true as const, clipped } });
    const [s10, s30] = summarize(
      [
        row("a", 10, 25, 27, 12, { ...applied(0.01), butteraugli: { jpeg: 6, restored: 4 } }),
        row("b", 10, 27, 26.5, 7, { ...applied(0.03), butteraugli: { jpeg: 5, restored: 4.5 } }),
        row("a", 30, 30, 31, null, { projection: { applied: false, reason: "turned off" } }),
      ],
      [10, 30],
    );
    assert.deepEqual(s10?.butteraugli, { jpeg: 5.5, restored: 4.25, change: -1.25 });
    close(s10?.clipped ?? Number.NaN, 0.02, 1e-12);
    assert.equal(s30?.butteraugli, null);
    assert.equal(s30?.clipped, null);
  });
  it("leaves out qualities without results", () => {
    assert.equal(summarize([row("a", 10, 25, 27, 12)], [10, 30, 40]).length, 1);
  });
});
