/**
 * A model told the compression (`qtables` on its UNet and decoder, tests/fixtures/model-random-tables):
 * restore() feeds it the tables read from the JPEG's own headers, in the calling thread and in the model
 * worker alike, and the tables change what it does. A model without the input runs as before (the parity
 * tests).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import sharp from "sharp";
import { inspectJpeg } from "../../lib/jpeg/index.js";
import { runPipeline } from "../../lib/model/pipeline.js";
import { qtablesValue, takesTables } from "../../lib/model/qtables.js";
import { closeAllModels, openModel } from "../../lib/model/sessions.js";
import { restore } from "../../lib/restore/restore.js";

const TABLES_MODEL = join(import.meta.dirname, "../fixtures/model-random-tables");
const PLAIN_MODEL = join(import.meta.dirname, "../fixtures/model-random");
// Non-IJG tables (one of mozjpeg's other sets), so that the file's own tables differ from the IJG tables of
// its estimated quality, the fallback when no tables are known.
const JPEG = await sharp(readFileSync(join(TABLES_MODEL, "reference/b_70x53_q30/input.jpg")))
  .jpeg({ quality: 30, quantisationTable: 3 })
  .toBuffer();

after(closeAllModels);

async function decodedRgb(bytes: Uint8Array): Promise<{ rgb: Uint8Array; width: number; height: number }> {
  const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { rgb: new Uint8Array(data), width: info.width, height: info.height };
}

function tablesOf(bytes: Uint8Array): [number[], number[]] {
  const inspection = inspectJpeg(bytes, { fileSize: bytes.length });
  assert.equal(inspection.status, "ok");
  if (inspection.status !== "ok") throw new Error("unreachable");
  const [luma, chroma] = inspection.tables;
  return [[...luma!.values], [...chroma!.values]];
}

describe("qtables: the source's quantization tables fed to a model that takes them", () => {
  it("the manifest says which models take them", async () => {
    assert.equal(takesTables((await openModel(TABLES_MODEL, { threads: 1 })).model.manifest), true);
    assert.equal(takesTables((await openModel(PLAIN_MODEL, { threads: 1 })).model.manifest), false);
  });

  it("the value is [1, 2, 64]: luma then chroma, natural order; IJG tables of a quality without tables", () => {
    const value = qtablesValue([Array.from({ length: 64 }, (_, i) => i + 1), new Array(64).fill(7)], 50);
    assert.deepEqual(value.dims, [1, 2, 64]);
    assert.equal(value.data[0], 1);
    assert.equal(value.data[63], 64);
    assert.equal(value.data[64], 7);
    const ijg50 = qtablesValue(null, 50);
    assert.equal(ijg50.data[0], 16); // Annex K luma DC at quality 50
    assert.equal(ijg50.data[64], 17); // Annex K chroma DC
    assert.equal(qtablesValue(null, 1).data[0], 255); // clamped to 8 bits, as most encoders write
  });

  for (const inWorker of [false, true]) {
    it(`restore() feeds the JPEG's own tables (${inWorker ? "model worker" : "calling thread"})`, async () => {
      const restored = await restore(JPEG, {
        modelDir: TABLES_MODEL,
        format: "png",
        threads: 1,
        modelInWorker: inWorker,
        force: true,
        // The model's own pixels, to compare with the pipeline's (the projection after the model changes
        // them: tests/integration/restore-projection*.test.ts).
        projection: false,
      });
      assert.equal(restored.action, "restored");
      if (restored.action !== "restored") return;
      const out = await decodedRgb(restored.output);
      const input = await decodedRgb(JPEG);
      const sessions = await openModel(TABLES_MODEL, { threads: 1, inWorker: false });
      const run = (tables: [number[], number[]] | null) =>
        runPipeline(sessions, { ...input, tableQuality: restored.description.quality, tables });
      const own = await run(tablesOf(JPEG));
      assert.deepEqual(out.rgb, own.rgb, "restore() gave what the pipeline gives with the file's own tables");
      const differing = (other: Uint8Array) => {
        let changed = 0;
        for (let i = 0; i < own.rgb.length; i++) changed += own.rgb[i] === other[i] ? 0 : 1;
        return changed;
      };
      // Neither the IJG tables of the estimated quality nor other tables give that output.
      const fallback = await run(null);
      assert.ok(differing(fallback.rgb) > own.rgb.length / 20, "the IJG fallback gave the same output");
      const other = await run([new Array(64).fill(2), new Array(64).fill(3)]);
      assert.ok(differing(other.rgb) > own.rgb.length / 10, "other tables gave the same output");
    });
  }
});
