import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  axisWeights,
  blendInto,
  extractPlanar,
  planAxis,
  planarToInterleaved,
  planTiles,
} from "../../lib/image/tiles.js";

describe("planAxis", () => {
  it("covers the axis with spans on the stride grid, overlapping by exactly the overlap, none over a tile", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5000 }),
        fc.integer({ min: 1, max: 16 }),
        fc.integer({ min: 0, max: 7 }),
        (length, tileUnits, overlapUnits) => {
          fc.pre(overlapUnits * 2 < tileUnits);
          const tile = tileUnits * 32;
          const overlap = overlapUnits * 32;
          const stride = tile - overlap;
          const spans = planAxis(length, tile, overlap);
          assert.equal(spans[0]!.start, 0);
          assert.equal(spans.at(-1)!.end, length);
          for (let i = 0; i < spans.length; i++) {
            const s = spans[i]!;
            assert.equal(s.start % stride, 0);
            if (i > 0) assert.equal(spans[i - 1]!.end - s.start, overlap);
            assert.ok(s.end - s.start <= tile, "no span longer than a tile");
            if (i < spans.length - 1) assert.equal(s.end - s.start, tile);
            else if (i > 0) assert.ok(s.end - s.start > overlap, "the last span is longer than the overlap");
          }
          assert.equal(spans.length === 1, length <= tile);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("refuses overlaps of half a tile or more", () => {
    assert.throws(() => planAxis(1000, 128, 64), RangeError);
  });
});

describe("axisWeights", () => {
  it("sum to exactly one at every pixel, are zero in each overlap's outer quarter, and one alone", () => {
    for (const [length, tile, overlap] of [
      [1000, 256, 64],
      [4000, 512, 64],
      [777, 128, 32],
      [300, 512, 64],
    ] as const) {
      const spans = planAxis(length, tile, overlap);
      const sum = new Float64Array(length);
      spans.forEach((span, i) => {
        const w = axisWeights(span, spans[i - 1], spans[i + 1]);
        w.forEach((v, k) => {
          sum[span.start + k]! += v;
        });
        if (i > 0) for (let k = 0; k < overlap / 4; k++) assert.equal(w[k], 0);
        if (i + 1 < spans.length) for (let k = 0; k < overlap / 4; k++) assert.equal(w[w.length - 1 - k], 0);
      });
      for (let k = 0; k < length; k++) assert.ok(Math.abs(sum[k]! - 1) < 1e-6, `pixel ${k}: ${sum[k]}`);
    }
  });
});

/** A stand-in model with spatial context: a box blur of radius r, edges replicated, per channel. */
function boxBlur(planar: Float32Array, w: number, h: number, r: number): Float32Array {
  const out = new Float32Array(planar.length);
  const plane = w * h;
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let s = 0;
        for (let dy = -r; dy <= r; dy++) {
          for (let dx = -r; dx <= r; dx++) {
            const yy = Math.min(h - 1, Math.max(0, y + dy));
            const xx = Math.min(w - 1, Math.max(0, x + dx));
            s += planar[c * plane + yy * w + xx]!;
          }
        }
        out[c * plane + y * w + x] = s / (2 * r + 1) ** 2;
      }
    }
  }
  return out;
}

function noiseImage(w: number, h: number, seed: number): Uint8Array {
  const rgb = new Uint8Array(w * h * 3);
  let s = seed;
  for (let i = 0; i < rgb.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    rgb[i] = (s >>> 16) & 0xff;
  }
  return rgb;
}

function runTiled(
  rgb: Uint8Array,
  w: number,
  h: number,
  tile: number,
  overlap: number,
  r: number,
): Float32Array {
  const acc = new Float32Array(w * h * 3);
  const xs = planAxis(w, tile, overlap);
  const ys = planAxis(h, tile, overlap);
  ys.forEach((y, j) => {
    xs.forEach((x, i) => {
      const tw = x.end - x.start;
      const th = y.end - y.start;
      const out = boxBlur(extractPlanar(rgb, w, { x, y }, tw, th), tw, th, r);
      blendInto(
        acc,
        w,
        h,
        out,
        tw,
        tw * th,
        { x, y },
        axisWeights(x, xs[i - 1], xs[i + 1]),
        axisWeights(y, ys[j - 1], ys[j + 1]),
      );
    });
  });
  return acc;
}

describe("tiled processing with blending", () => {
  it("reassembles the image exactly when the tile process is the identity", () => {
    const w = 333;
    const h = 217;
    const rgb = noiseImage(w, h, 7);
    const acc = runTiled(rgb, w, h, 96, 32, 0);
    assert.deepEqual(planarToInterleaved(acc, w, h), rgb);
    assert.equal(planTiles(w, h, 96, 32).length, 5 * 3);
  });

  it("matches the untiled result for a model with context, with no error concentrated on tile borders", () => {
    const w = 300;
    const h = 200;
    const rgb = noiseImage(w, h, 11);
    const whole = boxBlur(
      extractPlanar(rgb, w, { x: { start: 0, end: w }, y: { start: 0, end: h } }, w, h),
      w,
      h,
      24,
    );
    const tiled = runTiled(rgb, w, h, 160, 64, 24);
    // A context radius wider than the unweighted quarter of the overlap (16 px): errors exist but are small.
    let mse = 0;
    let borderErr = 0;
    let borderN = 0;
    let otherErr = 0;
    let otherN = 0;
    const xs = planAxis(w, 160, 64);
    const seams = xs.slice(1).map((s) => s.start + 32); // centre of each overlap
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const k = c * w * h + y * w + x;
          const d = (whole[k]! - tiled[k]!) * 255;
          mse += d * d;
          if (seams.some((s) => Math.abs(x - s) <= 2)) {
            borderErr += d * d;
            borderN++;
          } else {
            otherErr += d * d;
            otherN++;
          }
        }
      }
    }
    mse /= w * h * 3;
    const psnr = 10 * Math.log10((255 * 255) / Math.max(mse, 1e-12));
    assert.ok(mse > 0, "the test needs a context wider than the dropped quarter");
    assert.ok(psnr >= 45, `PSNR ${psnr.toFixed(1)} dB`);
    assert.ok(
      borderErr / borderN <= otherErr / otherN + 1e-9,
      `seam MSE ${borderErr / borderN} vs ${otherErr / otherN}`,
    );
  });

  it("with context inside the dropped quarter, tiled equals untiled", () => {
    const w = 250;
    const h = 190;
    const rgb = noiseImage(w, h, 3);
    const whole = boxBlur(
      extractPlanar(rgb, w, { x: { start: 0, end: w }, y: { start: 0, end: h } }, w, h),
      w,
      h,
      8,
    );
    const tiled = runTiled(rgb, w, h, 96, 32, 8);
    let max = 0;
    for (let k = 0; k < whole.length; k++) max = Math.max(max, Math.abs(whole[k]! - tiled[k]!));
    assert.ok(max < 1e-5, `max difference ${max}`);
  });
});

describe("extractPlanar", () => {
  it("cuts planar [0,1] RGB and replicates the last row and column into the padding", () => {
    const rgb = Uint8Array.from([0, 1, 2, 255, 254, 253, 10, 20, 30, 40, 50, 60]); // 2×2
    const out = extractPlanar(rgb, 2, { x: { start: 1, end: 2 }, y: { start: 0, end: 2 } }, 2, 3);
    const plane = 6;
    const r = [...out.subarray(0, plane)].map((v) => Math.round(v * 255));
    assert.deepEqual(r, [255, 255, 40, 40, 40, 40]);
    assert.equal(Math.round(out[plane * 2]! * 255), 253);
  });

  it("gives what a byte-by-byte cut gives, at any width, rectangle and buffer offset (word-read fast path)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 23 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 0, max: 7 }),
        fc.nat(),
        (width, height, byteOffset, seed) => {
          const backing = new Uint8Array(byteOffset + width * height * 3 + 5);
          for (let k = 0; k < backing.length; k++) backing[k] = (k * 73 + seed * 31) & 255;
          const rgb = backing.subarray(byteOffset, byteOffset + width * height * 3);
          const x0 = seed % width;
          const y0 = (seed >> 3) % height;
          const rect = { x: { start: x0, end: width }, y: { start: y0, end: height } };
          const w = width - x0;
          const h = height - y0;
          const pw = w + (seed % 3);
          const ph = h + (seed % 2);
          const out = extractPlanar(rgb, width, rect, pw, ph, 2 / 255, -1);
          for (let c = 0; c < 3; c++) {
            for (let y = 0; y < ph; y++) {
              for (let x = 0; x < pw; x++) {
                const v = rgb[((y0 + Math.min(y, h - 1)) * width + x0 + Math.min(x, w - 1)) * 3 + c]!;
                assert.equal(out[c * pw * ph + y * pw + x], Math.fround(v * (2 / 255) - 1));
              }
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
