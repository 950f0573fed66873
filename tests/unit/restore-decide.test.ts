import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import sharp from "sharp";
import { encodeRestored } from "../../lib/image/encode.js";
import { decide, triage } from "../../lib/restore/decide.js";

const W = 64;
const H = 48;
const pixels = Buffer.alloc(W * H * 3, 90);
const image = () => sharp(pixels, { raw: { width: W, height: H, channels: 3 } });

describe("decide (triage from header bytes)", () => {
  it("restores a low-quality JPEG, reporting its size and the table quality", async () => {
    const bytes = await image().jpeg({ quality: 30 }).toBuffer();
    assert.deepEqual(decide(bytes, { totalBytes: bytes.length }), {
      action: "restore",
      quality: 30,
      width: W,
      height: H,
    });
    assert.equal(triage(bytes).match, "exact");
  });

  it("skips high quality unless forced, at the configurable threshold", async () => {
    const bytes = await image().jpeg({ quality: 95 }).toBuffer();
    const d = decide(bytes);
    assert.equal(d.action, "skip");
    assert.equal(d.action === "skip" && d.reason, "high-quality");
    assert.equal(d.action === "skip" && d.quality, 95);
    assert.equal(decide(bytes, { force: true }).action, "restore");
    assert.equal(decide(bytes, { skipQuality: 96 }).action, "restore");
    const q90 = await image().jpeg({ quality: 90 }).toBuffer();
    assert.equal(decide(q90).action, "skip", "90 is at the default threshold");
  });

  it("asks for more bytes when the prefix ends inside the headers", async () => {
    const bytes = await image().jpeg({ quality: 30 }).toBuffer();
    const d = decide(bytes.subarray(0, 40));
    assert.equal(d.action, "need-more-bytes");
    assert.ok(d.action === "need-more-bytes" && d.atLeast > 40);
    assert.equal(decide(new Uint8Array(0)).action, "need-more-bytes");
    // The same prefix declared to be the whole file is a broken JPEG, not a question.
    const cut = decide(bytes.subarray(0, 40), { totalBytes: 40 });
    assert.equal(cut.action === "skip" && cut.reason, "unsupported");
  });

  it("skips what is not a JPEG, too large, CMYK, or an unjpeg derivative", async () => {
    const png = await image().png().toBuffer();
    assert.equal((decide(png) as { reason?: string }).reason, "not-jpeg");
    const bytes = await image().jpeg({ quality: 30 }).toBuffer();
    assert.equal((decide(bytes, { maxPixels: W * H - 1 }) as { reason?: string }).reason, "too-large");
    assert.equal(
      (decide(bytes.subarray(0, 10), { maxBytes: 1000, totalBytes: 5000 }) as { reason?: string }).reason,
      "too-large",
    );
    const cmyk = await image().toColourspace("cmyk").jpeg({ quality: 30 }).toBuffer();
    assert.equal((decide(cmyk) as { reason?: string }).reason, "unsupported");
    const twelveBit = readFileSync(join(import.meta.dirname, "../fixtures/jpeg/synthetic-12bit-q85.jpg"));
    const t = decide(twelveBit, { force: true });
    assert.equal(t.action === "skip" && t.reason, "unsupported");
    assert.match(t.action === "skip" ? t.message : "", /12-bit/);
    const rgb = new Uint8Array(pixels);
    const derivative = await encodeRestored(bytes, rgb, W, H, {
      format: "jpeg",
      quality: 40,
      grey: false,
      modelTag: "m@1",
    });
    assert.equal((decide(derivative, { force: true }) as { reason?: string }).reason, "derivative");
  });
});
