/** Whether a format's encoding fits 15 % of a restore (format=auto at the CDN origin), and how it learns. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  ENCODE_SHARE,
  encodeFits,
  observeEncode,
  SEEDED_ENCODE_RATES,
} from "../../lib/http/encode-budget.js";
import { SEEDED_RATE } from "../../lib/http/restore-estimate.js";

const MP = 1e6;

describe("the encode budget", () => {
  test("at the seeded speeds JPEG fits at every size, WebP only on small images, AVIF not at all", () => {
    const fits = (format: "jpeg" | "webp" | "avif", pixels: number) =>
      encodeFits(format, pixels, SEEDED_ENCODE_RATES, SEEDED_RATE);
    for (const pixels of [0.05 * MP, 1 * MP, 12 * MP, 50 * MP])
      assert.ok(fits("jpeg", pixels), `jpeg ${pixels}`);
    assert.ok(fits("webp", 0.2 * MP));
    assert.ok(!fits("webp", 1 * MP) && !fits("webp", 12 * MP));
    for (const pixels of [0.05 * MP, 0.3 * MP, 1 * MP, 12 * MP])
      assert.ok(!fits("avif", pixels), `avif ${pixels}`);
    assert.equal(ENCODE_SHARE, 0.15);
  });

  test("a process that measures faster encodes (or slower restores) lets a format in", () => {
    const slowRestore = { fixedMs: 540, msPerMegapixel: 3000 }; // as when the model runs on a slow CPU
    assert.ok(encodeFits("webp", 1 * MP, SEEDED_ENCODE_RATES, slowRestore));
    let rates = SEEDED_ENCODE_RATES;
    // AVIF encodes measured at 200 ms per 2 MP: its per-megapixel rate falls toward 25 ms.
    for (let i = 0; i < 30; i++) rates = observeEncode(rates, "avif", 2 * MP, 200);
    assert.ok(rates.avif.msPerMegapixel < 30, JSON.stringify(rates.avif));
    assert.equal(rates.webp, SEEDED_ENCODE_RATES.webp, "other formats keep theirs");
    assert.ok(encodeFits("avif", 12 * MP, rates, SEEDED_RATE));
    assert.ok(!encodeFits("avif", 0.3 * MP, rates, SEEDED_RATE), "its fixed cost still counts");
  });
});
