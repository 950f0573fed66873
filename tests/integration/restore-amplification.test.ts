/**
 * Amplification inside the limits: a small file whose frame header claims a far larger image than its
 * scans hold would decode padded and send the whole frame through the model. restore() refuses it first.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import sharp from "sharp";
import { inspectJpeg, minimumScanBytes } from "../../lib/jpeg/index.js";
import { closeAllModels } from "../../lib/model/sessions.js";
import { restore } from "../../lib/restore/restore.js";
import { startCdnStack } from "./cdn-stack.js";
import { makeJpeg, TEST_MODEL_DIR } from "./s3rver-helpers.js";

/** The same file with its frame header (SOFn) claiming `width` × `height`. */
function withFrameSize(jpeg: Uint8Array, width: number, height: number): Uint8Array {
  const out = new Uint8Array(jpeg);
  for (let at = 2; at < out.length; ) {
    const marker = out[at + 1]!;
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      out.set([height >> 8, height & 255, width >> 8, width & 255], at + 5);
      return out;
    }
    at += 2 + ((out[at + 2]! << 8) | out[at + 3]!);
  }
  throw new Error("no frame header");
}

const codeOf = async (run: Promise<unknown>): Promise<string> => {
  try {
    await run;
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
  return "no error";
};

after(closeAllModels);

describe("restore() and frames larger than their scans", () => {
  it("a frame far larger than its scan data is refused before the model (reliability case 7)", async () => {
    // 768×512 of scan data under a 7000×7000 frame: 37 KB, where any encoder needs at least 144 KB.
    const bomb = withFrameSize(await makeJpeg(50, 768, 512), 7000, 7000);
    const started = performance.now();
    // A model folder that does not exist: the refusal must come before the model is even opened.
    assert.equal(await codeOf(restore(bomb, { modelDir: "/nonexistent-model" })), "JPEG_SCAN_TOO_SHORT");
    assert.equal(await codeOf(restore(bomb, { modelDir: TEST_MODEL_DIR })), "JPEG_SCAN_TOO_SHORT");
    assert.ok(performance.now() - started < 20_000);

    // Enough bytes to pass that bound, but still far from a 3000×3000 image's data: the decoder runs out
    // of data (libjpeg's "premature end of data segment"), which is refused with the same code.
    const padded = withFrameSize(await makeJpeg(80, 1200, 900, 7), 3000, 3000);
    const inspection = inspectJpeg(padded, { fileSize: padded.length });
    assert.ok(inspection.status === "ok");
    assert.ok(padded.length - inspection.scanStart >= minimumScanBytes(inspection)!, "passes the byte bound");
    assert.equal(await codeOf(restore(padded, { modelDir: "/nonexistent-model" })), "JPEG_SCAN_TOO_SHORT");

    // Through the storage core (the CDN origin here): a typed refusal, no model run.
    const stack = await startCdnStack();
    try {
      await stack.put("photos/bomb.jpg", bomb);
      const response = await fetch(`${stack.url}/photos/bomb.jpg`);
      assert.equal(response.status, 415);
      const body = (await response.json()) as { code: string; message: string };
      assert.equal(body.code, "NOT_DECODABLE");
      assert.match(body.message, /JPEG_SCAN_TOO_SHORT/);
      assert.equal(stack.restores(), 0);
    } finally {
      await stack.close();
    }

    // The same files whole are restored as usual.
    const whole = await makeJpeg(50, 64, 48);
    const outcome = await restore(whole, { modelDir: TEST_MODEL_DIR });
    assert.equal(outcome.action, "restored");
    const { width, height } = await sharp((outcome as { output: Uint8Array }).output).metadata();
    assert.deepEqual([width, height], [64, 48]);
  });
});
