/**
 * The projection as a step of restore(), with a real onnxruntime session on the random fixture model: it
 * is timed and described, off on request, done in the file's stored orientation, skipped with a warning
 * when the coefficients cannot be decoded, and a scan too short for its frame refuses the restore.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import sharp from "sharp";
import { isUnjpegError } from "../../lib/errors.js";
import { decodeCoefficients } from "../../lib/jpeg/coefficients.js";
import { closeAllModels } from "../../lib/model/sessions.js";
import { restore } from "../../lib/restore/restore.js";
import { agreement, requantize } from "../support/requantize.js";

const MODEL = join(import.meta.dirname, "../fixtures/model-random");
const options = { modelDir: MODEL, threads: 2, force: true } as const;

after(closeAllModels);

function picture(w: number, h: number): Buffer {
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      px[i] = 40 + (x * 170) / w;
      px[i + 1] = (Math.floor(x / 11) + Math.floor(y / 7)) % 2 ? 180 : 70;
      px[i + 2] = 128 + 80 * Math.sin(x / 3) * Math.cos(y / 5);
    }
  }
  return px;
}

const jpeg = (w: number, h: number) =>
  sharp(picture(w, h), { raw: { width: w, height: h, channels: 3 } })
    .jpeg({ quality: 20 })
    .toBuffer();

/** Warnings Node emits while `run` runs. */
async function warningsDuring<T>(run: () => Promise<T>): Promise<{ result: T; warnings: Error[] }> {
  const warnings: Error[] = [];
  const listener = (warning: Error) => warnings.push(warning);
  process.on("warning", listener);
  try {
    const result = await run();
    await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
    return { result, warnings };
  } finally {
    process.off("warning", listener);
  }
}

describe("restore(): the projection step", () => {
  it("is on by default for a JPEG, timed as `projection` (and `coefficients`), described", async () => {
    const outcome = await restore(await jpeg(80, 56), options);
    assert.equal(outcome.action, "restored");
    if (outcome.action !== "restored") return;
    const { projection, timings, cpuTimings } = outcome.description;
    assert.equal(projection?.applied, true);
    if (projection?.applied !== true) return;
    assert.ok(projection.clipped > 0 && projection.clipped < 1, String(projection.clipped));
    for (const step of ["coefficients", "projection"]) {
      assert.equal(typeof timings[step], "number", step);
      assert.equal(typeof cpuTimings?.[step], "number", step);
    }
  });

  it("is off with `projection: false`: the model's pixels as they are", async () => {
    const bytes = await jpeg(80, 56);
    const off = await restore(bytes, { ...options, format: "png", projection: false });
    const on = await restore(bytes, { ...options, format: "png" });
    assert.ok(off.action === "restored" && on.action === "restored");
    assert.deepEqual(off.description.projection, { applied: false, reason: "turned off" });
    assert.equal(off.description.timings["projection"], undefined);
    assert.equal(off.description.timings["coefficients"], undefined);
    assert.notDeepEqual(off.output, on.output);
  });

  it("works in the stored orientation of a file turned by EXIF (6: a quarter turn)", async () => {
    const bytes = await sharp(picture(72, 40), { raw: { width: 72, height: 40, channels: 3 } })
      .withMetadata({ orientation: 6 })
      .jpeg({ quality: 20 })
      .toBuffer();
    const outcome = await restore(bytes, { ...options, format: "png" });
    assert.equal(outcome.action, "restored");
    if (outcome.action !== "restored") return;
    assert.deepEqual([outcome.description.width, outcome.description.height], [40, 72]);
    // The upright output turned back as the file stores it, then re-quantized.
    const stored = await sharp(outcome.output).rotate(270).raw().toBuffer();
    const source = decodeCoefficients(bytes);
    const kept = agreement(source.components, requantize(new Uint8Array(stored), 72, 40, source.components));
    assert.ok(kept.all >= 0.99, String(kept.all));
  });

  it("restores without it, with a warning, when the coefficients cannot be decoded", async () => {
    // Arithmetic coding: sharp decodes it, the coefficient decoder refuses it.
    const bytes = readFileSync(join(import.meta.dirname, "../fixtures/jpeg/cjpeg-q60-arithmetic.jpg"));
    const { result, warnings } = await warningsDuring(() => restore(bytes, options));
    assert.equal(result.action, "restored");
    const projection = result.description.projection;
    assert.equal(projection?.applied, false);
    assert.match(projection?.applied === false ? projection.reason : "", /JPEG_ARITHMETIC_UNSUPPORTED/);
    const warning = warnings.find((w) => (w as { code?: string }).code === "UNJPEG_PROJECTION_SKIPPED");
    assert.ok(warning, `warnings: ${warnings.map((w) => w.message).join("; ")}`);
    assert.match(warning.message, /restoring without the projection/);
  });

  it("refuses a file whose scan holds far fewer blocks than its frame claims (JPEG_SCAN_TOO_SHORT)", async () => {
    const bytes = Buffer.from(await jpeg(32, 16));
    // The frame header (SOF0: FF C0, length, precision, height, width) claims 32 × 1024.
    const sof = bytes.indexOf(Buffer.from([0xff, 0xc0]));
    bytes.writeUInt16BE(1024, sof + 5);
    await assert.rejects(restore(bytes, options), (error: unknown) => {
      assert.ok(isUnjpegError(error), String(error));
      assert.equal(error.code, "JPEG_SCAN_TOO_SHORT");
      return true;
    });
  });
});
