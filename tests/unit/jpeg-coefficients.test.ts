/** decodeCoefficients on valid files: what it returns, and the same coefficients however they are coded. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import sharp from "sharp";
import {
  decodeCoefficients,
  inspectJpeg,
  type JpegCoefficients,
  type JpegInspection,
  releaseCoefficients,
} from "../../lib/jpeg/index.js";
import { encodeJpeg } from "./jpeg-encoder.js";
import { COEFFICIENT_SEEDS, fixture, photoLikePpm, runTool, skipWithout } from "./jpeg-tools.js";

function assertSameCoefficients(actual: JpegCoefficients, expected: JpegCoefficients): void {
  assert.equal(actual.components.length, expected.components.length);
  actual.components.forEach((c, i) => {
    const e = expected.components[i]!;
    assert.deepEqual(
      [c.id, c.h, c.v, c.blocksWide, c.blocksHigh],
      [e.id, e.h, e.v, e.blocksWide, e.blocksHigh],
    );
    assert.deepEqual(c.quant, e.quant);
    assert.ok(
      Buffer.from(c.coefficients.buffer, c.coefficients.byteOffset, c.coefficients.byteLength).equals(
        Buffer.from(e.coefficients.buffer, e.coefficients.byteOffset, e.coefficients.byteLength),
      ),
      `component ${i}'s coefficients differ`,
    );
  });
}

/** Deterministic coefficients: DC anywhere in range, sparse AC up to the precision's largest magnitude. */
function randomBlocks(blocks: number, precision: 8 | 12, seed: number): Int16Array {
  let state = seed;
  const next = (): number => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 2 ** 32;
  };
  const out = new Int16Array(blocks * 64);
  const [dcMax, acMax] = precision === 8 ? [1016, 1023] : [16368, 16383];
  for (let b = 0; b < blocks; b++) {
    out[b * 64] = Math.round((next() * 2 - 1) * dcMax);
    for (let k = 1; k < 64; k++) {
      if (next() < 0.35 / (1 + k / 8)) out[b * 64 + k] = Math.round((next() * 2 - 1) ** 5 * acMax) || -1;
    }
  }
  return out;
}

describe("decodeCoefficients", () => {
  test("reports the frame and each component's grid, table and coefficients (4:2:0, 45×37)", () => {
    const bytes = fixture("coef-baseline-420.jpg");
    const decoded = decodeCoefficients(bytes);
    assert.deepEqual(
      [decoded.width, decoded.height, decoded.precision, decoded.progressive, decoded.maxH, decoded.maxV],
      [45, 37, 8, false, 2, 2],
    );
    assert.equal(decoded.adobeTransform, undefined);
    // Luma: ceil(45/8) × ceil(37/8); chroma: ceil(ceil(45/2)/8) × ceil(ceil(37/2)/8).
    const grids = decoded.components.map((c) => [c.id, c.h, c.v, c.blocksWide, c.blocksHigh]);
    assert.deepEqual(grids, [
      [1, 2, 2, 6, 5],
      [2, 1, 1, 3, 3],
      [3, 1, 1, 3, 3],
    ]);
    const inspection = inspectJpeg(bytes, { fileSize: bytes.length }) as JpegInspection;
    decoded.components.forEach((c, i) => {
      assert.equal(c.coefficients.length, c.blocksWide * c.blocksHigh * 64);
      assert.ok(c.quant instanceof Uint16Array);
      const slot = inspection.componentInfo[i]!.slot;
      assert.deepEqual([...c.quant], inspection.tables.find((t) => t.slot === slot)!.values);
      assert.ok(c.coefficients.some((v) => v !== 0));
    });
  });

  test("every seed file decodes, and progressive ones say so", () => {
    for (const name of COEFFICIENT_SEEDS) {
      const decoded = decodeCoefficients(fixture(name));
      assert.equal(decoded.progressive, name.includes("progressive"), name);
    }
  });

  describe("the same coefficients however jpegtran re-codes them", { skip: skipWithout("jpegtran") }, () => {
    const base = fixture("coef-baseline-420.jpg");
    const expected = decodeCoefficients(base);
    for (const args of [
      ["-progressive"],
      ["-optimize"],
      ["-restart", "1B"],
      ["-progressive", "-restart", "2B"],
      ["-optimize", "-restart", "1"],
    ]) {
      test(`jpegtran ${args.join(" ")}`, () => {
        const recoded = runTool("jpegtran", args, base);
        const decoded = decodeCoefficients(recoded);
        assert.equal(decoded.progressive, args.includes("-progressive"));
        assertSameCoefficients(decoded, expected);
      });
    }
  });

  describe("round trips through a test encoder (what no tool here writes)", () => {
    const cases: [
      string,
      { w: number; h: number; precision: 8 | 12; sampling: number[][]; restart?: number; scans?: number[][] },
    ][] = [
      ["12-bit grey", { w: 37, h: 29, precision: 12, sampling: [[1, 1]] }],
      [
        "12-bit 4:2:0 with restarts",
        {
          w: 37,
          h: 29,
          precision: 12,
          sampling: [
            [2, 2],
            [1, 1],
            [1, 1],
          ],
          restart: 2,
        },
      ],
      [
        "four components, restart every 3 MCUs",
        {
          w: 53,
          h: 41,
          precision: 8,
          sampling: [
            [1, 1],
            [1, 1],
            [1, 1],
            [1, 1],
          ],
          restart: 3,
        },
      ],
      [
        "sampling 3x1, 1x2, 1x1",
        {
          w: 70,
          h: 23,
          precision: 12,
          sampling: [
            [3, 1],
            [1, 2],
            [1, 1],
          ],
          restart: 1,
        },
      ],
      [
        "sampling 1x4 luma, chroma in its own scan",
        {
          w: 17,
          h: 90,
          precision: 8,
          sampling: [
            [1, 4],
            [1, 1],
            [1, 2],
            [1, 1],
          ],
          scans: [[0], [1, 2, 3]],
        },
      ],
      [
        "grey with 2x2 sampling (non-interleaved)",
        { w: 33, h: 33, precision: 8, sampling: [[2, 2]], restart: 5 },
      ],
      [
        "4x2 luma with 2x1 and 1x1 chroma in separate scans",
        {
          w: 70,
          h: 23,
          precision: 8,
          sampling: [
            [4, 2],
            [1, 1],
            [2, 1],
          ],
          scans: [[0], [1], [2]],
        },
      ],
    ];
    cases.forEach(([name, { w, h, precision, sampling, restart, scans }], index) => {
      test(name, () => {
        const maxH = Math.max(...sampling.map((s) => s[0]!));
        const maxV = Math.max(...sampling.map((s) => s[1]!));
        const components = sampling.map(([ch, cv], i) => {
          const blocks =
            Math.ceil(Math.ceil((w * ch!) / maxH) / 8) * Math.ceil(Math.ceil((h * cv!) / maxV) / 8);
          return { id: i + 1, h: ch!, v: cv!, coefficients: randomBlocks(blocks, precision, index * 10 + i) };
        });
        // A 16-bit (Pq 1) table for 12-bit files, as their encoders write.
        const quant = components.map((_, i) =>
          Array.from({ length: 64 }, (_, k) => (precision === 12 ? 300 + k + i : 1 + k)),
        );
        const bytes = encodeJpeg({
          width: w,
          height: h,
          precision,
          components,
          quant,
          restartInterval: restart,
          scans,
        });
        const decoded = decodeCoefficients(bytes);
        assert.equal(decoded.precision, precision);
        decoded.components.forEach((c, i) => {
          assert.deepEqual([...c.quant], quant[i]);
          assert.deepEqual(c.coefficients, components[i]!.coefficients, `component ${i}`);
        });
      });
    });
  });

  test("storage given back and decoded into again shows nothing of the last image (sequential scans zero as they go)", () => {
    // 4:2:0 with padding MCUs, then the same frame sparse: DC only, and a component in a scan of its own.
    const sampling = [
      [2, 2],
      [1, 1],
      [1, 1],
    ];
    const [w, h] = [45, 37];
    const encode = (sparse: boolean, scans?: number[][]) => {
      const components = sampling.map(([ch, cv], i) => {
        const blocks = Math.ceil(Math.ceil((w * ch!) / 2) / 8) * Math.ceil(Math.ceil((h * cv!) / 2) / 8);
        const coefficients = randomBlocks(blocks, 8, 7 + i);
        for (let k = 0; sparse && k < coefficients.length; k++) if (k % 64 !== 0) coefficients[k] = 0;
        return { id: i + 1, h: ch!, v: cv!, coefficients };
      });
      return { components, bytes: encodeJpeg({ width: w, height: h, components, scans }) };
    };
    for (const scans of [undefined, [[0], [1, 2]]]) {
      releaseCoefficients(decodeCoefficients(encode(false).bytes));
      const sparse = encode(true, scans);
      const decoded = decodeCoefficients(sparse.bytes);
      decoded.components.forEach((c, i) => {
        assert.deepEqual(c.coefficients, sparse.components[i]!.coefficients, `component ${i}`);
      });
      releaseCoefficients(decoded);
    }
    // A prefix cut inside the luma's own scan: the chroma's scan never comes, and its components are zeros.
    releaseCoefficients(decodeCoefficients(encode(false).bytes));
    const separate = encode(false, [[0], [1, 2]]).bytes;
    const firstScan = Buffer.from(separate).indexOf(Buffer.from([0xff, 0xda]));
    const cut = decodeCoefficients(separate.subarray(0, firstScan + 60), { prefix: true });
    assert.deepEqual(
      cut.components.slice(1).map((c) => [c.rows, c.coefficients.every((v) => v === 0)]),
      [
        [0, true],
        [0, true],
      ],
    );
  });

  test("storage given back and decoded into again by a progressive file shows nothing of the last image", async () => {
    // The same coefficients coded baseline and progressive (sharp); a busy image of the same size first.
    const [w, h] = [96, 80];
    const raw = { raw: { width: w, height: h, channels: 3 as const } };
    const noise = Buffer.from(Array.from({ length: w * h * 3 }, (_, i) => (i * 7919) % 251));
    const flat = Buffer.alloc(w * h * 3, 90);
    const busy = await sharp(noise, raw).jpeg({ quality: 100 }).toBuffer();
    for (const chromaSubsampling of ["4:2:0", "4:4:4"]) {
      const options = { quality: 50, chromaSubsampling };
      const progressive = await sharp(flat, raw)
        .jpeg({ ...options, progressive: true })
        .toBuffer();
      const baseline = await sharp(flat, raw).jpeg(options).toBuffer();
      releaseCoefficients(decodeCoefficients(busy));
      const decoded = decodeCoefficients(progressive);
      assert.equal(decoded.progressive, true);
      assertSameCoefficients(decoded, decodeCoefficients(baseline));
      releaseCoefficients(decoded);
    }
  });

  test("a file without DHT gets the standard tables (Motion-JPEG), as libjpeg gives them", () => {
    // cjpeg without -optimize codes with T.81 Annex K's tables: dropping its DHT segments changes nothing.
    const bytes = fixture("coef-baseline-420.jpg");
    const kept: Buffer[] = [bytes.subarray(0, 2)];
    let p = 2;
    let marker: number;
    do {
      marker = bytes[p + 1]!;
      const end = p + 2 + bytes.readUInt16BE(p + 2);
      if (marker !== 0xc4) kept.push(bytes.subarray(p, end));
      p = end;
    } while (marker !== 0xda);
    const stripped = Buffer.concat([...kept, bytes.subarray(p)]);
    assert.ok(!stripped.includes(Buffer.from([0xff, 0xc4])));
    assertSameCoefficients(decodeCoefficients(stripped), decodeCoefficients(bytes));
  });

  test("a file that ends after its last scan without EOI is read", () => {
    const bytes = fixture("coef-progressive-444.jpg");
    assert.deepEqual([...bytes.subarray(-2)], [0xff, 0xd9]);
    assertSameCoefficients(decodeCoefficients(bytes.subarray(0, -2)), decodeCoefficients(bytes));
  });

  test("APP14 Adobe: a CMYK file's four components and transform 0 (sharp)", async () => {
    const ppm = photoLikePpm(24, 16);
    const rgb = ppm.subarray(ppm.length - 24 * 16 * 3);
    const cmyk = await sharp(rgb, { raw: { width: 24, height: 16, channels: 3 } })
      .toColourspace("cmyk")
      .jpeg({ quality: 80 })
      .toBuffer();
    const decoded = decodeCoefficients(cmyk);
    assert.equal(decoded.components.length, 4);
    assert.equal(decoded.adobeTransform, 0);
  });

  test("APP14 Adobe transform 1 (YCbCr) from the segment's 12th byte", () => {
    const app14 = Uint8Array.from([0xff, 0xee, 0, 14, ...Buffer.from("Adobe"), 0, 100, 0, 0, 0, 0, 1]);
    const components = [1, 2, 3].map((id) => ({ id, h: 1, v: 1, coefficients: new Int16Array(64) }));
    const bytes = encodeJpeg({ width: 8, height: 8, components, extraSegments: [app14] });
    assert.equal(decodeCoefficients(bytes).adobeTransform, 1);
  });

  test("the 12-bit header fixture reports precision 12", () => {
    assert.equal(decodeCoefficients(fixture("synthetic-12bit-q85.jpg")).precision, 12);
  });

  test("an aborted signal throws its reason before decoding", () => {
    const controller = new AbortController();
    controller.abort(new Error("stop here"));
    assert.throws(
      () => decodeCoefficients(fixture("coef-baseline-420.jpg"), { signal: controller.signal }),
      /stop here/,
    );
  });
});
