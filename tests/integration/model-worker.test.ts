/**
 * The model worker (lib/model/worker-thread.ts) with the random fixture model: the same bytes as sessions in
 * the calling thread, steps measured, its errors typed, and a worker that dies fails only what it was
 * running: the next restore starts a new one and creates its sessions again.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import sharp from "sharp";
import { decodeImage } from "../../lib/image/decode.js";
import { runPipeline } from "../../lib/model/pipeline.js";
import { closeAllModels, openModel } from "../../lib/model/sessions.js";
import { crashModelWorker } from "../../lib/model/worker-client.js";
import { restore } from "../../lib/restore/restore.js";

const MODEL = join(import.meta.dirname, "../fixtures/model-random");

/** Edges, gradients and texture, `w`×`h`, as a quality-15 JPEG. */
async function jpeg(w: number, h: number): Promise<Buffer> {
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      px[i] = (x * 255) / Math.max(1, w - 1);
      px[i + 1] = (Math.floor(x / 19) + Math.floor(y / 13)) % 2 ? 200 : 50;
      px[i + 2] = 128 + 100 * Math.sin(x / 5) * Math.cos(y / 7);
    }
  }
  return sharp(px, { raw: { width: w, height: h, channels: 3 } })
    .jpeg({ quality: 15 })
    .toBuffer();
}

after(closeAllModels);

const TILING = { tile: 128, overlap: 32 };

describe("the model worker", () => {
  it("gives the same bytes as sessions in the calling thread, on many overlapping tiles", async () => {
    const { rgb, info } = await decodeImage(await jpeg(333, 217));
    const input = { rgb, width: info.width, height: info.height, tableQuality: 15 };
    const worker = await openModel(MODEL, { threads: 2, inWorker: true });
    const thread = await openModel(MODEL, { threads: 2, inWorker: false });
    assert.ok(worker.remote !== undefined && thread.remote === undefined);
    const inWorker = await runPipeline(worker, input, { tiling: TILING });
    const inThread = await runPipeline(thread, input, { tiling: TILING });
    assert.equal(inWorker.tiles, 4 * 2);
    assert.deepEqual(inWorker.rgb, inThread.rgb);
    // CaVE on tiles too: its next tile is cut out while it runs on one, and the first generator tile
    // while its last run is in flight.
    const cave = { wholeMaxPixels: 10_000, tile: 64 };
    const cavedInWorker = await runPipeline(worker, input, { tiling: TILING, cave });
    const cavedInThread = await runPipeline(thread, input, { tiling: TILING, cave });
    assert.equal(cavedInWorker.cave.mode, "tiled");
    assert.deepEqual(cavedInWorker.rgb, cavedInThread.rgb);
    for (const step of ["cave", "encoder", "unet", "x0", "decoder", "tensors", "blend"]) {
      assert.ok((inWorker.timings[step] ?? 0) > 0, `step ${step} measured`);
      assert.ok((inWorker.cpuTimings[step] ?? -1) >= 0, `step ${step}: CPU time`);
    }
  });

  it("fails a run whose worker dies with a ModelError, and the next restore works", async () => {
    const source = await jpeg(333, 217);
    const { rgb, info } = await decodeImage(source);
    const inWorker = { threads: 2, inWorker: true };
    const before = await openModel(MODEL, inWorker);
    const running = runPipeline(
      before,
      { rgb, width: info.width, height: info.height, tableQuality: 15 },
      // The worker dies as soon as the first tile is in (after the job already sent to it): the later
      // tiles cannot run.
      { tiling: TILING, onProgress: () => void crashModelWorker() },
    );
    await assert.rejects(running, (error: Error & { code?: string }) => {
      assert.equal(error.code, "MODEL_RUN_FAILED");
      assert.match(error.message, /model worker stopped/);
      return true;
    });
    const again = await restore(source, { modelDir: MODEL, threads: 2, force: true, modelInWorker: true });
    assert.equal(again.action, "restored");
    const after = await openModel(MODEL, inWorker);
    assert.notEqual(after, before, "sessions created again in the new worker");
    assert.equal(await openModel(MODEL, inWorker), after, "and reused");
  });
});
