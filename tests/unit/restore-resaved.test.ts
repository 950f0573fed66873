/** The triage's re-saved check: which bytes it reads, and how it turns a high-quality skip into a restore. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import sharp from "sharp";
import { ANNEX_K_CHROMA, ANNEX_K_LUMA, ijgTable } from "../../lib/jpeg/ijg.js";
import { inspectJpeg, type JpegInspection } from "../../lib/jpeg/index.js";
import { decide } from "../../lib/restore/decide.js";
import { earlierTables, RESAVED_SCAN_BYTES, resavedPrefixBytes } from "../../lib/restore/resaved.js";
import { jpegOf, photoLike, resaved } from "./resave-tools.js";

const inspect = (bytes: Uint8Array) => inspectJpeg(bytes, { fileSize: bytes.length }) as JpegInspection;

describe("the re-saved check of the triage", () => {
  const picture = photoLike(256, 192);

  test("a QF 10 photo re-saved at 95 with a crop is restored, with the earlier compression", async () => {
    const bytes = await resaved(picture, 10, 95, [3, 5]);
    assert.equal(inspect(bytes).quality, 95);
    const decision = decide(bytes, { totalBytes: bytes.length });
    assert.equal(decision.action, "restore");
    assert.ok(decision.action === "restore" && decision.recompressed !== undefined);
    assert.equal(decision.quality, 95, "the quality stays the tables'");
    assert.deepEqual(decision.recompressed.offset, [3, 5]);
    assert.ok(Math.abs(decision.recompressed.quality - 10) <= 5);
  });

  test("off (UNJPEG_DETECT_RESAVED=false), or a single compression: as before; forced: with the earlier one", async () => {
    const bytes = await resaved(picture, 10, 95, [3, 5]);
    const off = decide(bytes, { totalBytes: bytes.length, detectResaved: false });
    assert.equal(off.action === "skip" && off.reason, "high-quality");
    const forcedOff = decide(bytes, { totalBytes: bytes.length, force: true, detectResaved: false });
    assert.deepEqual(forcedOff, { action: "restore", quality: 95, width: 251, height: 189 });
    const forced = decide(bytes, { totalBytes: bytes.length, force: true });
    assert.deepEqual(forced.action === "restore" && forced.recompressed?.offset, [3, 5]);
    const single = await jpegOf(picture, 95);
    const skipped = decide(single, { totalBytes: single.length });
    assert.equal(skipped.action === "skip" && skipped.reason, "high-quality");
    assert.deepEqual(decide(single, { totalBytes: single.length, force: true }), {
      action: "restore",
      quality: 95,
      width: 256,
      height: 192,
    });
    const low = await jpegOf(picture, 30);
    assert.deepEqual(decide(low, { totalBytes: low.length }), {
      action: "restore",
      quality: 30,
      width: 256,
      height: 192,
    });
  });

  test("an earlier compression at or above the threshold stays a skip, and says so", async () => {
    const bytes = await resaved(picture, 10, 95, [0, 0]);
    const d = decide(bytes, { totalBytes: bytes.length, skipQuality: 8 });
    assert.equal(d.action === "skip" && d.reason, "high-quality");
    assert.match(d.action === "skip" ? d.message : "", /earlier compression's \(\d+\)/);
  });

  test("from the headers alone it asks for the part of the scan it reads: one more read", async () => {
    const bytes = await resaved(picture, 10, 95, [3, 5]);
    const { scanStart } = inspect(bytes);
    const headers = bytes.subarray(0, scanStart + 16);
    const d = decide(headers, { totalBytes: bytes.length });
    assert.deepEqual(d, { action: "need-more-bytes", atLeast: bytes.length }, "a small file: all of it");
    assert.equal(decide(headers, { totalBytes: bytes.length, detectResaved: false }).action, "skip");
  });

  test("what the caller found already is used as it is", async () => {
    const single = await jpegOf(picture, 95);
    const recompressed = { quality: 12, offset: [1, 2] as const, confidence: 0.9 };
    const d = decide(single, { totalBytes: single.length, recompressed });
    assert.deepEqual(d, { action: "restore", quality: 95, width: 256, height: 192, recompressed });
  });

  test("sequential files: at most 1 MiB of scan; progressive ones whole, or not checked", () => {
    const frame = { process: "baseline" as const, scanStart: 600 };
    assert.equal(resavedPrefixBytes(frame, 5_000_000), 600 + RESAVED_SCAN_BYTES);
    assert.equal(resavedPrefixBytes(frame, 90_000), 90_000);
    const progressive = { process: "progressive" as const, scanStart: 600 };
    assert.equal(resavedPrefixBytes(progressive, 90_000), 90_000);
    assert.equal(resavedPrefixBytes(progressive, 600 + RESAVED_SCAN_BYTES + 1), null);
  });

  test("a large progressive file is not checked: skipped from its headers, no more bytes asked", async () => {
    const width = 1600;
    const height = 1200;
    const noise = Buffer.alloc(width * height * 3);
    let state = 7;
    for (let i = 0; i < noise.length; i++) {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      noise[i] = state >>> 24;
    }
    const bytes = await sharp(noise, { raw: { width, height, channels: 3 } })
      .jpeg({ quality: 95, progressive: true, chromaSubsampling: "4:4:4" })
      .toBuffer();
    assert.ok(bytes.length > inspect(bytes).scanStart + RESAVED_SCAN_BYTES);
    const d = decide(bytes.subarray(0, 65536), { totalBytes: bytes.length });
    assert.equal(d.action === "skip" && d.reason, "high-quality");
  });

  test("the model is told the earlier quality's IJG tables; a grey source's luma table twice", () => {
    const luma = ijgTable(ANNEX_K_LUMA, 12, 255);
    assert.deepEqual(earlierTables(12, 3), [luma, ijgTable(ANNEX_K_CHROMA, 12, 255)]);
    assert.deepEqual(earlierTables(12, 1), [luma, luma]);
  });
});
