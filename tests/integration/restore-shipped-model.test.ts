/**
 * The shipped model (models/codiff-tiny), found by default: restore() with no model folder given, its band
 * for QF <= 10, and tiled against untiled on an image small enough to run whole.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import sharp from "sharp";
import { decodeImage } from "../../lib/image/decode.js";
import { shippedModelDir } from "../../lib/model/default-model.js";
import { runPipeline } from "../../lib/model/pipeline.js";
import { closeAllModels, openModel } from "../../lib/model/sessions.js";
import { restore } from "../../lib/restore/restore.js";

const W = 600;
const H = 400;

function picture(): Buffer {
  const px = Buffer.alloc(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = (y * W + x) * 3;
      px[i] = (x * 255) / W;
      px[i + 1] = (Math.floor(x / 23) + Math.floor(y / 17)) % 2 ? 210 : 40;
      px[i + 2] = 128 + 100 * Math.sin(x / 5) * Math.cos(y / 7);
    }
  }
  return px;
}

after(closeAllModels);

describe("the shipped model", () => {
  it("is the default model folder", async () => {
    assert.equal(shippedModelDir(), join(import.meta.dirname, "../../models/codiff-tiny"));
    const jpeg = await sharp(picture(), { raw: { width: W, height: H, channels: 3 } })
      .jpeg({ quality: 10 })
      .toBuffer();
    const outcome = await restore(jpeg, { threads: 2 });
    assert.equal(outcome.action, "restored");
    assert.match(outcome.description.model ?? "", /^codiff-tiny@/);
  });

  it("restores QF 10 with its band for the hardest compressions, QF 40 with its own weights", async () => {
    const restoredAt = async (quality: number) => {
      const jpeg = await sharp(picture(), { raw: { width: W, height: H, channels: 3 } })
        .jpeg({ quality })
        .toBuffer();
      const outcome = await restore(jpeg, { threads: 2, format: "png" });
      assert.equal(outcome.action, "restored");
      return outcome.description;
    };
    const [low, high] = [await restoredAt(10), await restoredAt(40)];
    assert.equal(low.run?.band, "low");
    assert.equal(high.run?.band, undefined);
    assert.equal(low.model, high.model, "one model tag whichever weights ran");
  });

  it("tiled output matches untiled (PSNR ≥ 45 dB)", async (t) => {
    const jpeg = await sharp(picture(), { raw: { width: W, height: H, channels: 3 } })
      .jpeg({ quality: 10 })
      .toBuffer();
    const { rgb } = await decodeImage(jpeg);
    const sessions = await openModel(shippedModelDir(), { threads: 2 });
    const input = { rgb, width: W, height: H, tableQuality: 10 };
    const whole = await runPipeline(sessions, input, { tiling: { tile: 2048, overlap: 128 } });
    // Smaller tiles and overlap than the manifest's (1024/128), so that this size is cut into 15 tiles.
    const tiled = await runPipeline(sessions, input, { tiling: { tile: 192, overlap: 64 } });
    assert.equal(whole.tiles, 1);
    assert.equal(tiled.tiles, 15);
    let se = 0;
    for (let i = 0; i < rgb.length; i++) se += (tiled.rgb[i]! - whole.rgb[i]!) ** 2;
    const psnr = 10 * Math.log10((255 * 255 * rgb.length) / Math.max(se, 1e-9));
    t.diagnostic(`tiled vs untiled PSNR ${psnr.toFixed(2)} dB`);
    assert.ok(psnr >= 45, `PSNR ${psnr.toFixed(2)} dB`);
  });
});
