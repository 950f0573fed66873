/**
 * The quantization-constraint projection as pure functions: the factored DCT against the definition, the
 * stored-orientation mapping against sharp's autoOrient, and a changed image projected back onto its
 * source's cells, checked with the independent re-quantizer of tests/support.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import sharp from "sharp";
import { storedLayout } from "../../lib/image/source-planes.js";
import { FORWARD_SCALE, forwardDct, INVERSE_SCALE, inverseDct } from "../../lib/jpeg/dct.js";
import { ANNEX_K_CHROMA, ANNEX_K_LUMA, ijgTable } from "../../lib/jpeg/index.js";
import {
  projectionSkipReason,
  projectOntoSource,
  type SourceCoefficients,
} from "../../lib/restore/projection.js";
import { agreement, referenceDct, requantize, type Sampling } from "../support/requantize.js";

/** Deterministic pseudo-random numbers in [0, 1). */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Mid-range texture (no clamping at 0 or 255 after a change of ±20). */
function texture(w: number, h: number, seed = 1): Uint8Array {
  const rand = random(seed);
  const px = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      px[i] = 128 + 60 * Math.sin(x / 4 + y / 9) + 20 * rand();
      px[i + 1] = ((x >> 3) + (y >> 2)) & 1 ? 170 : 70;
      px[i + 2] = 128 + 50 * Math.cos(x / 7) * Math.sin(y / 3);
    }
  return px;
}

function perturbed(px: Uint8Array, seed: number, amount = 20): Uint8Array {
  const rand = random(seed);
  return px.map((v) => v + Math.round((rand() - 0.5) * 2 * amount));
}

const LUMA = ijgTable(ANNEX_K_LUMA, 50, 255);
const CHROMA = ijgTable(ANNEX_K_CHROMA, 50, 255);

/** A source as the decoder would give it: the re-quantizer's coefficients of `px` (stored orientation). */
function sourceOf(px: Uint8Array, w: number, h: number, sampling: readonly Sampling[]): SourceCoefficients {
  const requantized = requantize(px, w, h, sampling);
  return {
    width: w,
    height: h,
    precision: 8,
    maxH: Math.max(...sampling.map((s) => s.h)),
    maxV: Math.max(...sampling.map((s) => s.v)),
    components: sampling.map((s, i) => ({
      id: i + 1,
      h: s.h,
      v: s.v,
      quant: Uint16Array.from(s.quant),
      ...requantized[i]!,
    })),
  };
}

const SAMPLINGS: Record<string, Sampling[]> = {
  "4:2:0": [
    { h: 2, v: 2, quant: LUMA },
    { h: 1, v: 1, quant: CHROMA },
    { h: 1, v: 1, quant: CHROMA },
  ],
  "4:2:2": [
    { h: 2, v: 1, quant: LUMA },
    { h: 1, v: 1, quant: CHROMA },
    { h: 1, v: 1, quant: CHROMA },
  ],
  "4:4:4": [
    { h: 1, v: 1, quant: LUMA },
    { h: 1, v: 1, quant: CHROMA },
    { h: 1, v: 1, quant: CHROMA },
  ],
  grey: [{ h: 1, v: 1, quant: LUMA }],
  // Less common samplings, moved by the general loops rather than the written-out ones.
  "4:4:0": [
    { h: 1, v: 2, quant: LUMA },
    { h: 1, v: 1, quant: CHROMA },
    { h: 1, v: 1, quant: CHROMA },
  ],
  "4:1:1": [
    { h: 4, v: 1, quant: LUMA },
    { h: 1, v: 1, quant: CHROMA },
    { h: 1, v: 1, quant: CHROMA },
  ],
  "Cb and Cr sampled apart": [
    { h: 2, v: 2, quant: LUMA },
    { h: 1, v: 1, quant: CHROMA },
    { h: 2, v: 1, quant: CHROMA },
  ],
};

describe("the JPEG DCT (factored)", () => {
  it("equals the definition, forward and inverse, to float precision", () => {
    const rand = random(7);
    for (let n = 0; n < 50; n++) {
      const block = Float64Array.from({ length: 64 }, () => (rand() - 0.5) * 255);
      const expected = referenceDct(block);
      const work = Float32Array.from(block);
      forwardDct(work, 0, 8);
      for (let k = 0; k < 64; k++) assert.ok(Math.abs(work[k]! / FORWARD_SCALE[k]! - expected[k]!) < 1e-3);
      for (let k = 0; k < 64; k++) work[k] = expected[k]! * INVERSE_SCALE[k]!;
      inverseDct(work, 0, 8);
      for (let k = 0; k < 64; k++) assert.ok(Math.abs(work[k]! - block[k]!) < 1e-3);
    }
  });

  it("works in place on a block inside a wider plane", () => {
    const plane = new Float32Array(24 * 16).map((_, i) => (i * 37) % 101);
    const copy = plane.slice();
    const offset = 8 * 24 + 8; // the block at column 8, row 8
    forwardDct(plane, offset, 24);
    for (let k = 0; k < 64; k++)
      plane[offset + (k >> 3) * 24 + (k & 7)]! *= INVERSE_SCALE[k]! / FORWARD_SCALE[k]!;
    inverseDct(plane, offset, 24);
    for (let i = 0; i < plane.length; i++) assert.ok(Math.abs(plane[i]! - copy[i]!) < 1e-3, `value ${i}`);
  });
});

describe("stored orientation", () => {
  it("maps every EXIF orientation as sharp's autoOrient turns the file", async () => {
    // 24×16 stored, six flat 8×8 blocks of distinct grey: each survives JPEG at quality 100 to ±1.
    const sw = 24;
    const sh = 16;
    const level = (x: number, y: number) => 30 + 35 * ((x >> 3) + 3 * (y >> 3));
    const stored = Buffer.alloc(sw * sh * 3);
    for (let y = 0; y < sh; y++)
      for (let x = 0; x < sw; x++) stored.fill(level(x, y), (y * sw + x) * 3, (y * sw + x) * 3 + 3);
    for (let orientation = 1; orientation <= 8; orientation++) {
      const file = await sharp(stored, { raw: { width: sw, height: sh, channels: 3 } })
        .withMetadata({ orientation })
        .jpeg({ quality: 100, chromaSubsampling: "4:4:4" })
        .toBuffer();
      const { data, info } = await sharp(file).autoOrient().raw().toBuffer({ resolveWithObject: true });
      const layout = storedLayout(info.width, info.height, orientation);
      assert.deepEqual([layout.width, layout.height], [sw, sh], `orientation ${orientation}`);
      for (const [x, y] of [
        [3, 3],
        [12, 4],
        [20, 3],
        [4, 12],
        [11, 11],
        [21, 13],
      ] as const) {
        const p = (layout.base + x * layout.dx + y * layout.dy) * 3;
        assert.ok(Math.abs(data[p]! - level(x, y)) <= 2, `orientation ${orientation} (${x}, ${y})`);
      }
    }
  });
});

describe("projectOntoSource", () => {
  for (const [name, sampling] of Object.entries(SAMPLINGS)) {
    for (const [w, h] of [
      [64, 48],
      [61, 45],
    ] as const) {
      it(`brings a changed ${w}×${h} ${name} image back into its source's cells`, () => {
        const px = texture(w, h);
        const source = sourceOf(px, w, h, sampling);
        const changed = perturbed(px, w + h);
        const before = agreement(source.components, requantize(changed, w, h, sampling));
        const stats = projectOntoSource(changed, w, h, 1, source);
        const after = agreement(source.components, requantize(changed, w, h, sampling));
        assert.ok(before.all < 0.97, `the change moved coefficients: ${before.all}`);
        assert.ok(
          stats.clipped > 0 &&
            stats.coefficients === source.components.reduce((n, c) => n + c.coefficients.length, 0),
        );
        assert.ok(after.all >= 0.999, `kept ${after.all} (${after.perComponent.join(", ")})`);
        if (name === "grey") {
          for (let i = 0; i < changed.length; i += 3)
            assert.ok(changed[i] === changed[i + 1] && changed[i] === changed[i + 2]);
        }
      });
    }
  }

  it("projects in the stored orientation (EXIF 6: the file is turned a quarter)", () => {
    const sw = 40;
    const sh = 24;
    const sampling = SAMPLINGS["4:2:0"]!;
    const stored = texture(sw, sh, 3);
    const source = sourceOf(stored, sw, sh, sampling);
    // Upright is sh wide and sw high: upright (u, v) = stored (x = v, y = sh − 1 − u).
    const upright = new Uint8Array(sw * sh * 3);
    const storedChanged = perturbed(stored, 5);
    for (let y = 0; y < sh; y++)
      for (let x = 0; x < sw; x++)
        upright.set(
          storedChanged.subarray((y * sw + x) * 3, (y * sw + x) * 3 + 3),
          (x * sh + (sh - 1 - y)) * 3,
        );
    assert.equal(projectionSkipReason(source, sh, sw, 6), null);
    projectOntoSource(upright, sh, sw, 6, source);
    const back = new Uint8Array(sw * sh * 3);
    for (let y = 0; y < sh; y++)
      for (let x = 0; x < sw; x++)
        back.set(
          upright.subarray((x * sh + (sh - 1 - y)) * 3, (x * sh + (sh - 1 - y)) * 3 + 3),
          (y * sw + x) * 3,
        );
    const after = agreement(source.components, requantize(back, sw, sh, sampling));
    assert.ok(after.all >= 0.999, `kept ${after.all}`);
  });
});

describe("projectionSkipReason", () => {
  const base = sourceOf(texture(16, 16), 16, 16, SAMPLINGS["4:2:0"]!);
  const components = base.components;
  it("accepts a YCbCr or grey 8-bit source of the decoded size", () => {
    assert.equal(projectionSkipReason(base, 16, 16, 1), null);
    assert.equal(projectionSkipReason({ ...base, adobeTransform: 1 }, 16, 16, 1), null);
  });
  it("names what it cannot apply to", () => {
    const cases: [Partial<SourceCoefficients>, RegExp][] = [
      [{ precision: 12 }, /12-bit/],
      [{ components: [...components, components[0]!] }, /CMYK/],
      [{ components: components.slice(0, 2) }, /2 components/],
      [{ adobeTransform: 0 }, /RGB/],
      [{ components: components.map((c, i) => ({ ...c, id: [0x52, 0x47, 0x42][i]! })) }, /RGB/],
      [{ maxH: 3 }, /sampling/],
      [{ width: 17 }, /frame is 17×16/],
    ];
    for (const [change, reason] of cases) {
      assert.match(projectionSkipReason({ ...base, ...change }, 16, 16, 1) ?? "", reason);
    }
  });
});
