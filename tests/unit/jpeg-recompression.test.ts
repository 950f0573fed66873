/** detectRecompression: the earlier, harder compression of a re-saved JPEG, its grid and quality. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import sharp from "sharp";
import { ANNEX_K_LUMA, ijgTable } from "../../lib/jpeg/ijg.js";
import { decodeCoefficients, inspectJpeg } from "../../lib/jpeg/index.js";
import { lumaPlane } from "../../lib/jpeg/luma-plane.js";
import { detectRecompression, fitIjgQuality } from "../../lib/jpeg/recompression.js";
import { estimateStep, histogramOf, type StepEstimate } from "../../lib/jpeg/step-estimate.js";
import { cropTopLeft, decodeRgb, jpegOf, photoLike, resaved } from "./resave-tools.js";

const detect = (bytes: Uint8Array) => detectRecompression(decodeCoefficients(bytes));

/** A deterministic generator in [0, 1). */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe("lumaPlane", () => {
  test("the luma decoded from the coefficients is a decoder's (sharp, libjpeg-turbo) to within rounding", async () => {
    const picture = photoLike(61, 45);
    const grey = await sharp(picture.rgb, { raw: { width: 61, height: 45, channels: 3 } })
      .toColourspace("b-w")
      .jpeg({ quality: 80 })
      .toBuffer();
    const decoded = await sharp(grey).toColourspace("b-w").raw().toBuffer({ resolveWithObject: true });
    assert.equal(decoded.info.channels, 1);
    const coefficients = decodeCoefficients(grey);
    assert.equal(coefficients.components.length, 1);
    const plane = lumaPlane(coefficients);
    assert.deepEqual([plane.width, plane.height], [61, 45]);
    let worst = 0;
    for (let y = 0; y < 45; y++) {
      for (let x = 0; x < 61; x++) {
        worst = Math.max(worst, Math.abs(plane.data[y * plane.stride + x]! - decoded.data[y * 61 + x]!));
      }
    }
    assert.ok(worst <= 1.5, `largest difference ${worst}`);
  });
});

describe("estimateStep", () => {
  const dcSearch = { minStep: 8, maxStep: 512, dc: true, minCount: 64, minPeaks: 4, pass: 0.8 };
  const acSearch = { minStep: 6, maxStep: 512, dc: false, minCount: 12, minPeaks: 1, pass: 0.8 };

  test("values quantized with step 27 and noised give 27; their divisors and multiples do not win", () => {
    const next = random(1);
    const values = Float64Array.from(
      { length: 4000 },
      () => 27 * Math.round((next() - 0.5) * 60) + (next() - 0.5) * 3,
    );
    const found = estimateStep(histogramOf(values, values.length), dcSearch);
    assert.equal(found?.step, 27);
    assert.ok(found!.fraction > 0.95 && found!.peaks >= 4);
  });

  test("AC values (mostly zero, some at ±1 and ±2 steps) give the step", () => {
    const next = random(2);
    const values = Float64Array.from({ length: 4000 }, () => {
      const u = next();
      const n = u < 0.8 ? 0 : u < 0.9 ? 1 : u < 0.95 ? -1 : u < 0.98 ? 2 : -2;
      return 46 * n + (next() - 0.5) * 4;
    });
    assert.equal(estimateStep(histogramOf(values, values.length), acSearch)?.step, 46);
  });

  test("values of one fine quantization (a Laplacian, step 2) show no earlier step", () => {
    const next = random(3);
    const laplacian = () => 2 * Math.round((Math.log(next() + 1e-12) * (next() < 0.5 ? -1 : 1) * 15) / 2);
    const ac = Float64Array.from({ length: 4000 }, laplacian);
    assert.equal(estimateStep(histogramOf(ac, ac.length), acSearch), null);
    const dc = Float64Array.from({ length: 4000 }, () => 2 * Math.round((next() - 0.5) * 900));
    assert.equal(estimateStep(histogramOf(dc, dc.length), dcSearch), null);
  });

  test("a backdrop of one value (capped) does not pass for the steps dividing it", () => {
    const next = random(4);
    const values = Float64Array.from({ length: 4000 }, (_, i) =>
      i < 3000 ? 576 : 2 * Math.round((next() - 0.5) * 900),
    );
    assert.equal(estimateStep(histogramOf(values, values.length), dcSearch), null);
  });
});

test("fitIjgQuality: the IJG luma steps of a quality give that quality (or one with the same steps)", () => {
  const used = [0, 1, 8, 9, 2, 16];
  for (const quality of [3, 5, 12, 20, 30, 50, 75]) {
    const table = ijgTable(ANNEX_K_LUMA, quality, 255);
    const steps = new Map<number, StepEstimate>(
      used.map((k) => [k, { step: table[k]!, fraction: 1, count: 100, peaks: 5 }]),
    );
    const fitted = ijgTable(ANNEX_K_LUMA, fitIjgQuality(steps), 255);
    assert.deepEqual(
      used.map((k) => fitted[k]),
      used.map((k) => table[k]),
      `quality ${quality}`,
    );
    assert.ok(Math.abs(fitIjgQuality(steps) - quality) <= 2);
  }
});

describe("detectRecompression", () => {
  const picture = photoLike(256, 192);

  const cases: [earlier: number, later: number, shift: [number, number], chroma: "4:2:0" | "4:4:4"][] = [
    [5, 95, [0, 0], "4:2:0"],
    [10, 90, [3, 5], "4:4:4"],
    [20, 92, [7, 1], "4:2:0"],
    [30, 95, [0, 4], "4:2:0"],
    [25, 90, [6, 0], "4:4:4"],
    [15, 93, [2, 2], "4:2:0"],
  ];
  for (const [earlier, later, shift, chroma] of cases) {
    test(`QF ${earlier} → ${later} (${chroma}), cropped by ${shift.join(",")}: the quality within ±5 and the grid`, async () => {
      const found = detect(await resaved(picture, earlier, later, shift, chroma));
      assert.ok(found !== null, "detected");
      assert.deepEqual(found.offset, shift, "the padding that puts the earlier grid back is the crop");
      assert.ok(Math.abs(found.quality - earlier) <= 5, `quality ${found.quality} for ${earlier}`);
      assert.ok(found.confidence > 0.6 && found.confidence <= 1, `confidence ${found.confidence}`);
    });
  }

  test("a re-save by a whole block (8 px) is on the last grid: offset [0, 0]", async () => {
    const found = detect(await resaved(picture, 10, 92, [8, 8]));
    assert.deepEqual(found?.offset, [0, 0]);
  });

  test("a progressive re-save is read whole, as a sequential one", async () => {
    const found = detect(await resaved(picture, 12, 94, [1, 6], "4:2:0", true));
    assert.deepEqual(found?.offset, [1, 6]);
    assert.ok(Math.abs(found!.quality - 12) <= 5);
  });

  test("a grey re-save (one component)", async () => {
    const grey = { ...picture, rgb: picture.rgb.map((_, i) => picture.rgb[i - (i % 3)]!) };
    const first = await decodeRgb(await jpegOf(grey, 8));
    const bytes = await (await import("sharp"))
      .default(cropTopLeft(first, 4, 3).rgb, {
        raw: { width: grey.width - 3, height: grey.height - 4, channels: 3 },
      })
      .toColourspace("b-w")
      .jpeg({ quality: 93 })
      .toBuffer();
    assert.equal((inspectJpeg(bytes, { fileSize: bytes.length }) as { components: number }).components, 1);
    assert.deepEqual(detect(bytes)?.offset, [4, 3]);
  });

  test("the first rows of a large file (a prefix) are enough", async () => {
    const large = photoLike(640, 800, 9);
    const bytes = await resaved(large, 18, 91, [5, 2]);
    const start = (inspectJpeg(bytes, { fileSize: bytes.length }) as { scanStart: number }).scanStart;
    const prefix = decodeCoefficients(bytes.subarray(0, start + Math.floor((bytes.length - start) / 4)), {
      prefix: true,
    });
    assert.ok(prefix.components[0]!.rows! < prefix.components[0]!.blocksHigh / 2);
    const found = detectRecompression(prefix);
    assert.deepEqual(found?.offset, [5, 2]);
    assert.ok(Math.abs(found!.quality - 18) <= 5);
  });

  test("single compressions at QF 85..98 are not re-saved ones", async () => {
    for (let quality = 85; quality <= 98; quality++) {
      for (const chroma of ["4:2:0", "4:4:4"] as const) {
        assert.equal(detect(await jpegOf(picture, quality, chroma)), null, `QF ${quality} ${chroma}`);
      }
    }
  });

  test("a picture on a flat backdrop, and a tiny one, are not re-saved ones", async () => {
    const backdrop = photoLike(256, 192);
    const rgb = Uint8Array.from(backdrop.rgb, (v, i) => (Math.floor(i / 3) % 256 < 176 ? 255 : v));
    assert.equal(detect(await jpegOf({ ...backdrop, rgb }, 92)), null);
    assert.equal(detect(await resaved(photoLike(40, 32), 10, 95)), null, "too few blocks for a verdict");
  });
});
