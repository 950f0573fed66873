import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import fc from "fast-check";
import sharp, { type JpegOptions, type Sharp } from "sharp";
import {
  ANNEX_K_CHROMA,
  ANNEX_K_LUMA,
  estimateIjgQuality,
  type InspectResult,
  ijgScaleFactor,
  ijgTable,
  inspectJpeg,
  type JpegInspection,
  type RoledTable,
} from "../../lib/jpeg/index.js";

const fixture = (name: string): Buffer => readFileSync(new URL(`../fixtures/jpeg/${name}`, import.meta.url));

function ok(result: InspectResult): JpegInspection {
  assert.equal(result.status, "ok");
  return result as JpegInspection;
}

function inspectWhole(bytes: Uint8Array): JpegInspection {
  return ok(inspectJpeg(bytes, { fileSize: bytes.length }));
}

/** A small image with detail, so every encoder path (progressive scans, subsampling) is exercised. */
async function sourceImage(): Promise<Sharp> {
  const width = 48;
  const height = 32;
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    const x = i % width;
    const y = Math.floor(i / width);
    pixels[i * 3] = (x * 5) & 255;
    pixels[i * 3 + 1] = (y * 8) & 255;
    pixels[i * 3 + 2] = ((x ^ y) * 16) & 255;
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } });
}

describe("IJG scaling", () => {
  test("matches libjpeg's jpeg_quality_scaling at its break points", () => {
    assert.equal(ijgScaleFactor(1), 5000);
    assert.equal(ijgScaleFactor(3), 1666); // integer division, as in C
    assert.equal(ijgScaleFactor(49), 102);
    assert.equal(ijgScaleFactor(50), 100);
    assert.equal(ijgScaleFactor(75), 50);
    assert.equal(ijgScaleFactor(100), 0);
    assert.deepEqual(ijgTable(ANNEX_K_LUMA, 50, 255), ANNEX_K_LUMA);
    assert.ok(ijgTable(ANNEX_K_LUMA, 100, 255).every((v) => v === 1));
    assert.equal(Math.max(...ijgTable(ANNEX_K_LUMA, 1, 32767)), 6050);
    assert.equal(Math.max(...ijgTable(ANNEX_K_LUMA, 1, 255)), 255);
  });

  test("every quality and clamp round-trips exactly, luma alone or with chroma", () => {
    for (const clamp of [255, 32767] as const) {
      for (let quality = 1; quality <= 100; quality++) {
        const luma = { role: "luma" as const, values: ijgTable(ANNEX_K_LUMA, quality, clamp) };
        const chroma = { role: "chroma" as const, values: ijgTable(ANNEX_K_CHROMA, quality, clamp) };
        for (const tables of [[luma], [luma, chroma]]) {
          const estimate = estimateIjgQuality(tables);
          assert.deepEqual([estimate.quality, estimate.match, estimate.distance], [quality, "exact", 0]);
        }
      }
    }
  });

  test("exact only when some quality reproduces every entry; otherwise approximate with a distance", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100 }),
        fc.constantFrom(255 as const, 32767 as const),
        fc.integer({ min: 0, max: 63 }),
        fc.integer({ min: 1, max: 32767 }),
        (quality, clamp, index, value) => {
          const values = ijgTable(ANNEX_K_LUMA, quality, clamp);
          values[index] = value;
          const chroma = ijgTable(ANNEX_K_CHROMA, quality, clamp);
          const estimate = estimateIjgQuality([
            { role: "luma", values },
            { role: "chroma", values: chroma },
          ]);
          const reproduces = [255, 32767].some(
            (c) =>
              ijgTable(ANNEX_K_LUMA, estimate.quality, c as 255).join() === values.join() &&
              ijgTable(ANNEX_K_CHROMA, estimate.quality, c as 255).join() === chroma.join(),
          );
          assert.equal(estimate.match === "exact", reproduces);
          assert.equal(estimate.distance === 0, estimate.match === "exact");
        },
      ),
      { numRuns: 500, seed: 2 },
    );
  });
});

test("the nearest quality is the minimum of a brute-force search over every quality and clamp", () => {
  const entries = fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 64, maxLength: 64 });
  fc.assert(
    fc.property(
      entries,
      fc.option(entries, { nil: undefined }),
      fc.double({ min: 0.2, max: 5 }),
      (a, b, f) => {
        const luma = a.map((v, i) => Math.max(1, Math.round((v + ANNEX_K_LUMA[i]! * f) / 2)));
        const tables: RoledTable[] = [{ role: "luma", values: luma }];
        if (b !== undefined) tables.push({ role: "chroma", values: b });
        let best = { sum: Number.POSITIVE_INFINITY, quality: 0 };
        for (const clamp of [255, 32767] as const) {
          for (let quality = 1; quality <= 100; quality++) {
            let sum = 0;
            for (const t of tables) {
              const reference = ijgTable(t.role === "luma" ? ANNEX_K_LUMA : ANNEX_K_CHROMA, quality, clamp);
              for (let i = 0; i < 64; i++) sum += Math.abs(Math.log(t.values[i]!) - Math.log(reference[i]!));
            }
            if (sum < best.sum - 1e-9) best = { sum, quality };
          }
        }
        const estimate = estimateIjgQuality(tables);
        assert.equal(estimate.match, "approximate");
        assert.ok(
          Math.abs(estimate.distance - best.sum / (64 * tables.length)) < 1e-3,
          `${estimate.distance} vs ${best.sum / (64 * tables.length)}`,
        );
        assert.equal(estimate.quality, best.quality);
      },
    ),
    { numRuns: 300, seed: 5 },
  );
});

describe("sharp (mozjpeg, Annex K tables, baseline clamp) at every quality", () => {
  const variants: [string, JpegOptions, boolean][] = [
    ["colour 4:2:0", {}, false],
    ["colour 4:4:4", { chromaSubsampling: "4:4:4" }, false],
    ["progressive", { progressive: true }, false],
    ["grey", {}, true],
  ];
  for (const [name, options, grey] of variants) {
    test(name, async () => {
      const image = await sourceImage();
      for (let quality = 1; quality <= 100; quality++) {
        const pipeline = grey ? image.clone().toColourspace("b-w") : image.clone();
        const bytes = await pipeline.jpeg({ quality, ...options }).toBuffer();
        const info = inspectWhole(bytes);
        assert.deepEqual(
          [info.quality, info.match, info.distance],
          [quality, "exact", 0],
          `${name} quality ${quality}`,
        );
        assert.equal(info.components, grey ? 1 : 3);
        assert.equal(info.tables.length, grey ? 1 : 2);
        assert.equal(info.process, options.progressive ? "progressive" : "baseline");
        assert.equal(info.subsampling, grey ? "4:0:0" : (options.chromaSubsampling ?? "4:2:0"));
        assert.deepEqual([info.width, info.height, info.bitDepth], [48, 32, 8]);
      }
    });
  }
});

describe("tables that are not IJG-scaled", () => {
  test("mozjpeg's other table sets (sharp quantisationTable 1..8) are approximate, near the right scale", async () => {
    const image = await sourceImage();
    for (let table = 1; table <= 8; table++) {
      for (const quality of [20, 50, 80]) {
        const bytes = await image.clone().jpeg({ quality, quantisationTable: table }).toBuffer();
        const info = inspectWhole(bytes);
        assert.equal(info.match, "approximate", `table ${table} quality ${quality}`);
        assert.ok(info.distance > 0.05, `table ${table} quality ${quality}: distance ${info.distance}`);
        assert.ok(info.quality >= 1 && info.quality <= 100);
      }
    }
  });

  test("the nearest quality follows the scale of the tables", async () => {
    const image = await sourceImage();
    const at = async (quality: number) =>
      inspectWhole(await image.clone().jpeg({ quality, quantisationTable: 2 }).toBuffer()).quality;
    const qualities = [await at(10), await at(40), await at(70), await at(95)];
    assert.deepEqual(
      [...qualities].sort((a, b) => a - b),
      qualities,
    );
    assert.ok(Math.abs(qualities[1]! - 40) <= 10, `table 2 at quality 40 estimated ${qualities[1]}`);
  });

  test("hand-made tables: one flat table, and luma and chroma at different qualities", () => {
    const flat = inspectWhole(fixture("cjpeg-flat8.jpg"));
    assert.equal(flat.match, "approximate");
    assert.ok(flat.distance > 0.3);
    assert.deepEqual(flat.tables[0]!.values, new Array(64).fill(8));
    const mixed = inspectWhole(fixture("cjpeg-q90-60-mixed.jpg"));
    assert.equal(mixed.match, "approximate");
    assert.ok(mixed.quality > 60 && mixed.quality <= 90, `mixed 90/60 estimated ${mixed.quality}`);
  });
});

describe("cjpeg fixtures (libjpeg-turbo 2.1.5)", () => {
  const cases: [string, number, Partial<JpegInspection>][] = [
    ["cjpeg-q1-16bit.jpg", 1, { process: "extended" }],
    ["cjpeg-q10-16bit.jpg", 10, { process: "extended" }],
    ["cjpeg-q23-16bit.jpg", 23, { process: "extended" }],
    ["cjpeg-q10-baseline.jpg", 10, { process: "baseline" }],
    ["cjpeg-q60-arithmetic.jpg", 60, { process: "extended-arithmetic" }],
    ["cjpeg-q35-arith-progressive.jpg", 35, { process: "progressive-arithmetic" }],
    ["cjpeg-q5-grey-progressive.jpg", 5, { process: "progressive", components: 1, subsampling: "4:0:0" }],
    ["cjpeg-q90-422.jpg", 90, { subsampling: "4:2:2" }],
    ["cjpeg-q70-411.jpg", 70, { subsampling: "4:1:1" }],
    ["cjpeg-q80-restart.jpg", 80, {}],
    ["cjpeg-q75-slots23.jpg", 75, {}],
    ["exif-thumb-q42.jpg", 42, {}],
    ["synthetic-12bit-q85.jpg", 85, { bitDepth: 12, process: "extended" }],
  ];
  for (const [name, quality, expected] of cases) {
    test(`${name}: quality ${quality}, exact`, () => {
      const info = inspectWhole(fixture(name));
      assert.deepEqual([info.quality, info.match, info.distance], [quality, "exact", 0]);
      for (const [key, value] of Object.entries(expected))
        assert.equal(info[key as keyof JpegInspection], value, key);
    });
  }

  test("16-bit tables are reported with precision 16 and entries above 255", () => {
    const info = inspectWhole(fixture("cjpeg-q10-16bit.jpg"));
    assert.deepEqual(
      info.tables.map((t) => [t.slot, t.precision]),
      [
        [0, 16],
        [1, 16],
      ],
    );
    assert.deepEqual(info.tables[0]!.values, ijgTable(ANNEX_K_LUMA, 10, 32767));
    assert.ok(Math.max(...info.tables[0]!.values) > 255);
  });

  test("tables in slots 2 and 3 are read through the frame's component mapping", () => {
    const info = inspectWhole(fixture("cjpeg-q75-slots23.jpg"));
    assert.deepEqual(
      info.tables.map((t) => t.slot),
      [2, 3],
    );
    assert.deepEqual(
      info.componentInfo.map((c) => c.slot),
      [2, 3, 3],
    );
  });
});
