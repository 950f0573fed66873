/**
 * The re-saved policy through restore(), on a model told the compression (tests/fixtures/model-random-tables):
 * a QF 95 file re-saved from QF 10 with its grid shifted is restored, the model fed the IJG tables of the
 * earlier quality (not the file's last ones), the image padded at the top and left to the earlier grid and
 * cropped back.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import sharp from "sharp";
import { padTopLeft, uprightOffset } from "../../lib/image/offset.js";
import { decodeCoefficients, inspectJpeg, type JpegInspection } from "../../lib/jpeg/index.js";
import { runPipeline } from "../../lib/model/pipeline.js";
import { closeAllModels, openModel } from "../../lib/model/sessions.js";
import { earlierCells } from "../../lib/restore/earlier-cells.js";
import { restore } from "../../lib/restore/restore.js";
import { agreement, requantize } from "../support/requantize.js";
import { cropTopLeft, decodeRgb, jpegOf, photoLike, resaved } from "../unit/resave-tools.js";

const TABLES_MODEL = join(import.meta.dirname, "../fixtures/model-random-tables");
const SHIFT = [3, 5] as const;
const JPEG = await resaved(photoLike(128, 96, 11), 10, 95, SHIFT);

after(closeAllModels);

async function decodedRgb(bytes: Uint8Array): Promise<{ rgb: Uint8Array; width: number; height: number }> {
  const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { rgb: new Uint8Array(data), width: info.width, height: info.height };
}

function differing(a: Uint8Array, b: Uint8Array): number {
  let changed = 0;
  for (let i = 0; i < a.length; i++) changed += a[i] === b[i] ? 0 : 1;
  return changed;
}

describe("restore() of a re-saved JPEG", () => {
  it("is skipped as high quality with the check off", async () => {
    const skipped = await restore(JPEG, { modelDir: TABLES_MODEL, threads: 1, detectResaved: false });
    assert.equal(skipped.action === "skipped" && skipped.reason, "high-quality");
    assert.equal(skipped.description.recompressed, undefined);
  });

  for (const inWorker of [false, true]) {
    it(`is restored as its earlier compression: its tables, its grid (${inWorker ? "model worker" : "calling thread"})`, async () => {
      const restored = await restore(JPEG, {
        modelDir: TABLES_MODEL,
        format: "png",
        threads: 1,
        modelInWorker: inWorker,
        projection: false, // compared with the pipeline's own output below
      });
      assert.equal(restored.action, "restored");
      if (restored.action !== "restored") return;
      const { quality, recompressed } = restored.description;
      assert.equal(quality, 95, "the quality reported stays the tables'");
      assert.ok(recompressed !== undefined);
      assert.deepEqual(recompressed.offset, SHIFT);
      assert.ok(Math.abs(recompressed.quality - 10) <= 5);

      const out = await decodedRgb(restored.output);
      const input = await decodedRgb(JPEG);
      assert.deepEqual([out.width, out.height], [input.width, input.height], "cropped back");
      const sessions = await openModel(TABLES_MODEL, { threads: 1, inWorker: false });
      const run = (tableQuality: number, offset: readonly [number, number]) =>
        runPipeline(sessions, { ...input, tableQuality, tables: null, offset });
      const expected = await run(recompressed.quality, recompressed.offset);
      assert.deepEqual(
        out.rgb,
        expected.rgb,
        "what the pipeline gives with the earlier quality's IJG tables and offset",
      );

      // The offset is the edge padding at the top and left, cropped off after.
      const padded = padTopLeft(input, SHIFT[0], SHIFT[1]);
      const manual = await runPipeline(sessions, {
        ...padded,
        tableQuality: recompressed.quality,
        tables: null,
      });
      for (let y = 0; y < input.height; y++) {
        const a = out.rgb.subarray(y * input.width * 3, (y + 1) * input.width * 3);
        const from = ((y + SHIFT[0]) * padded.width + SHIFT[1]) * 3;
        assert.deepEqual(a, manual.rgb.subarray(from, from + input.width * 3), `row ${y}`);
      }
      const [luma, chroma] = (inspectJpeg(JPEG, { fileSize: JPEG.length }) as JpegInspection).tables;
      const lastTables = await runPipeline(sessions, {
        ...input,
        tableQuality: 95,
        tables: [luma!.values, chroma!.values],
        offset: SHIFT,
      });
      assert.ok(
        differing(lastTables.rgb, out.rgb) > out.rgb.length / 20,
        "the last tables give another output",
      );
      const unshifted = await run(recompressed.quality, [0, 0]);
      assert.ok(differing(unshifted.rgb, out.rgb) > out.rgb.length / 20, "no padding gives another output");
    });
  }
});

describe("restore() of a re-saved JPEG shown turned (EXIF orientation 6)", () => {
  it("pads the upright image where the turned earlier grid starts", async () => {
    const first = await decodeRgb(await jpegOf(photoLike(128, 96, 13), 10));
    const cropped = cropTopLeft(first, 3, 5);
    const bytes = await sharp(cropped.rgb, {
      raw: { width: cropped.width, height: cropped.height, channels: 3 },
    })
      .withMetadata({ orientation: 6 })
      .jpeg({ quality: 95 })
      .toBuffer();
    const restored = await restore(bytes, {
      modelDir: TABLES_MODEL,
      format: "png",
      threads: 1,
      projection: false,
    });
    assert.equal(restored.action, "restored");
    if (restored.action !== "restored") return;
    const { recompressed } = restored.description;
    assert.deepEqual(recompressed?.offset, [3, 5], "found in the stored image");
    const upright = uprightOffset([3, 5], cropped.width, cropped.height, 6);
    assert.notDeepEqual(upright, [3, 5]);
    const turned = await sharp(bytes).autoOrient().raw().toBuffer({ resolveWithObject: true });
    const input = { rgb: new Uint8Array(turned.data), width: turned.info.width, height: turned.info.height };
    assert.deepEqual([input.width, input.height], [cropped.height, cropped.width], "upright");
    const sessions = await openModel(TABLES_MODEL, { threads: 1, inWorker: false });
    const run = (offset: readonly [number, number]) =>
      runPipeline(sessions, { ...input, tableQuality: recompressed!.quality, tables: null, offset });
    const out = await decodedRgb(restored.output);
    assert.deepEqual(out.rgb, (await run(upright)).rgb, "padded by the upright offset");
    assert.ok(differing(out.rgb, (await run([3, 5])).rgb) > 0, "not by the stored one");
  });
});

describe("the projection of a re-saved JPEG", () => {
  it("on a shifted grid: none (the file's blocks are not its earlier compression's)", async () => {
    const restored = await restore(JPEG, { modelDir: TABLES_MODEL, format: "png", threads: 1 });
    assert.equal(restored.action, "restored");
    if (restored.action !== "restored") return;
    assert.equal(restored.description.projection?.applied, false);
    assert.match(
      restored.description.projection?.applied === false ? restored.description.projection.reason : "",
      /shifted grid \(offset 3,5\)/,
    );
    assert.equal(restored.description.timings["coefficients"], undefined, "not even decoded");
  });

  it("on the last grid: onto the earlier compression's cells, not the last ones", async () => {
    const aligned = await resaved(photoLike(160, 120, 12), 10, 95, [0, 0], "4:2:0");
    const outcome = await restore(aligned, { modelDir: TABLES_MODEL, format: "png", threads: 1 });
    assert.equal(outcome.action, "restored");
    if (outcome.action !== "restored") return;
    const { recompressed, projection } = outcome.description;
    assert.deepEqual(recompressed?.offset, [0, 0]);
    assert.deepEqual(projection?.applied && projection.cells, "earlier");
    const { data, info } = await sharp(outcome.output).raw().toBuffer({ resolveWithObject: true });
    const rgb = new Uint8Array(data);
    const last = decodeCoefficients(aligned);
    const earlier = earlierCells(last, recompressed!.quality);
    // Re-quantized with the earlier tables, the output gives back the earlier compression's values (the
    // chroma too: 4:2:0 both times); with the last, fine tables far fewer: the old blocks are not put back.
    const onEarlier = agreement(
      earlier.components,
      requantize(rgb, info.width, info.height, earlier.components),
    );
    const onLast = agreement(last.components, requantize(rgb, info.width, info.height, last.components));
    assert.ok(onEarlier.all > 0.99, `earlier cells: ${onEarlier.perComponent.join(", ")}`);
    assert.ok(onLast.all < 0.9, `last cells: ${onLast.all}`);

    const off = await restore(aligned, {
      modelDir: TABLES_MODEL,
      format: "png",
      threads: 1,
      projection: false,
    });
    assert.deepEqual(off.action === "restored" && off.description.projection, {
      applied: false,
      reason: "turned off",
    });
  });
});
