/**
 * The scan-length bound (lib/jpeg/scan-length.ts) against real encoders' output: it must never refuse a
 * whole file, at any quality, size, subsampling or coding (the tightest case is a flat image coded
 * progressively with optimised scans: one bit per block), and refuse a cut one.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import sharp, { type JpegOptions, type Sharp } from "sharp";
import { checkScanLength, inspectJpeg, JpegError, minimumScanBytes } from "../../lib/jpeg/index.js";

function photo(width: number, height: number): Sharp {
  const pixels = Buffer.alloc(width * height * 3);
  let state = 7;
  for (let i = 0; i < pixels.length; i++) {
    state = (state * 1664525 + 1013904223) >>> 0;
    const x = (i / 3) % width;
    const y = Math.floor(i / 3 / width);
    pixels[i] = Math.min(255, 128 + 90 * Math.sin((x + 2 * y + (i % 3) * 11) / 9) + (state >>> 28));
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } });
}
const flat = (width: number, height: number, grey = 0): Sharp =>
  sharp({ create: { width, height, channels: 3, background: { r: grey, g: grey, b: grey } } });

const CODINGS: [string, JpegOptions][] = [
  ["baseline 4:2:0", { chromaSubsampling: "4:2:0" }],
  ["baseline 4:4:4 optimised", { chromaSubsampling: "4:4:4", optimiseCoding: true }],
  ["progressive", { progressive: true }],
  ["progressive, optimised scans", { progressive: true, optimiseScans: true }],
  ["mozjpeg", { mozjpeg: true }],
];

/** Bytes after the first scan header, per the bound's minimum (≥ 1 passes). */
function margin(jpeg: Uint8Array): number {
  const inspection = inspectJpeg(jpeg, { fileSize: jpeg.length });
  assert.ok(inspection.status === "ok");
  checkScanLength(inspection, jpeg.length);
  return (jpeg.length - inspection.scanStart) / minimumScanBytes(inspection)!;
}

describe("scan-length bound", () => {
  it("never refuses a whole file: QF 1..100, tiny to large, grey, progressive (reliability case 7)", async () => {
    let tightest = Number.POSITIVE_INFINITY;
    for (const [name, options] of CODINGS) {
      for (const [width, height] of [
        [1, 1],
        [17, 9],
        [333, 217],
      ] as const) {
        for (const quality of [1, 2, 5, 10, 25, 50, 75, 90, 100]) {
          for (const grey of [false, true]) {
            for (const source of [photo(width, height), flat(width, height, 255)]) {
              const image = grey ? source.greyscale() : source;
              const jpeg = new Uint8Array(await image.jpeg({ ...options, quality }).toBuffer());
              const m = margin(jpeg);
              assert.ok(m >= 1, `${name} ${width}×${height} q${quality}`);
              tightest = Math.min(tightest, m);
            }
          }
        }
      }
    }
    // Large flat images are the tightest: a few bytes of headers, one bit per block of DC.
    for (const [name, options] of CODINGS) {
      const jpeg = new Uint8Array(
        await flat(2048, 1536)
          .jpeg({ ...options, quality: 1 })
          .toBuffer(),
      );
      const m = margin(jpeg);
      assert.ok(m >= 1, name);
      tightest = Math.min(tightest, m);
    }
    assert.ok(tightest >= 1 && tightest < 1.1, `tightest margin ${tightest}: the bound is the real floor`);
  });

  it("refuses a scan cut short, and sets no floor for arithmetic coding", async () => {
    const jpeg = new Uint8Array(await photo(512, 512).jpeg({ quality: 30 }).toBuffer());
    const inspection = inspectJpeg(jpeg, { fileSize: jpeg.length });
    assert.ok(inspection.status === "ok");
    const cut = inspection.scanStart + minimumScanBytes(inspection)! - 1;
    assert.throws(
      () => checkScanLength(inspection, cut),
      (error) => error instanceof JpegError && error.code === "JPEG_SCAN_TOO_SHORT" && error.status === 422,
    );
    const arithmetic = readFileSync(join(import.meta.dirname, "../fixtures/jpeg/cjpeg-q60-arithmetic.jpg"));
    const read = inspectJpeg(arithmetic, { fileSize: arithmetic.length });
    assert.ok(read.status === "ok");
    assert.equal(minimumScanBytes(read), null);
    checkScanLength(read, read.scanStart);
  });
});
