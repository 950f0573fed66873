/**
 * A 4000×3000 photo, sliced: decoding, triage, CaVE (tiled at full resolution, tokens pooled) run on the
 * whole image; the generator runs on a 4000×288 slice with those tokens (more pixels than one tile, so
 * tiled), so the tiling path at this width is exercised in CI time. Peak memory stays far below the 1.5 GB
 * budget.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import sharp from "sharp";
import { decodeImage } from "../../lib/image/decode.js";
import { computeTokens } from "../../lib/model/cave.js";
import { runPipeline } from "../../lib/model/pipeline.js";
import { closeAllModels, openModel } from "../../lib/model/sessions.js";
import { decide } from "../../lib/restore/decide.js";

const MODEL = join(import.meta.dirname, "../fixtures/model-random");
const W = 4000;
const H = 3000;

after(closeAllModels);

describe("4000×3000, sliced", () => {
  it("decodes, triages, computes CaVE tokens tiled and restores a full-width slice", async (t) => {
    const px = Buffer.alloc(W * H * 3);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const i = (y * W + x) * 3;
        px[i] = (x >> 4) & 255;
        px[i + 1] = (y >> 3) & 255;
        px[i + 2] = ((x >> 5) + (y >> 5)) & 1 ? 200 : 50;
      }
    }
    const bytes = await sharp(px, { raw: { width: W, height: H, channels: 3 } })
      .jpeg({ quality: 20 })
      .toBuffer();
    assert.deepEqual(decide(bytes, { totalBytes: bytes.length }), {
      action: "restore",
      quality: 20,
      width: W,
      height: H,
    });
    const { rgb, info } = await decodeImage(bytes);
    assert.deepEqual([info.width, info.height], [W, H]);

    const sessions = await openModel(MODEL, { threads: 2 });
    const started = performance.now();
    const cave = await computeTokens(sessions, { rgb, width: W, height: H, tableQuality: 20 });
    assert.equal(cave.mode, "tiled");
    assert.deepEqual(cave.grid, [94, 125]);
    assert.ok(cave.pooledGrid[0] * cave.pooledGrid[1] <= 1024);
    assert.equal(cave.tokens.dims[1], cave.pooledGrid[0] * cave.pooledGrid[1]);
    assert.ok(cave.predictedQuality !== null);

    const slice = rgb.subarray(0, W * 288 * 3);
    const result = await runPipeline(
      sessions,
      { rgb: slice, width: W, height: 288, tableQuality: 20 },
      { tokens: cave },
    );
    assert.equal(result.tiles, 5);
    assert.equal(result.timings["cave"], undefined, "the tokens given were used, CaVE did not run again");
    assert.equal(result.rgb.length, slice.length);
    let changed = 0;
    for (let i = 0; i < slice.length; i += 97) if (result.rgb[i] !== slice[i]) changed++;
    assert.ok(changed > 0, "the model changed the slice");
    const peak = process.resourceUsage().maxRSS * 1024;
    t.diagnostic(
      `CaVE + slice: ${Math.round(performance.now() - started)} ms, peak RSS ${Math.round(peak / 2 ** 20)} MiB`,
    );
    assert.ok(peak < 1.5 * 2 ** 30, `peak RSS ${peak}`);
  });
});
