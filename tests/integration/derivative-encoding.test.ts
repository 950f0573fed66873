/**
 * Derivatives worth their bytes (issue 20), through real sharp encodes and real restores with the random
 * fixture model: the setting chosen per image keeps the restoration by the rule on the whole image and
 * costs less than the old JPEG q95 4:4:4; it is recorded (`restore --json`'s `encoding`, the derivative's
 * `unjpeg-encode`); a number still forces; format=auto passes over AVIF when its encoding would not fit.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import sharp from "sharp";
import { SEEDED_ENCODE_RATES } from "../../lib/http/encode-budget.js";
import { allowedError } from "../../lib/image/choose-encoding.js";
import { decodeImage } from "../../lib/image/decode.js";
import { jpegOptions, parseSetting } from "../../lib/image/encoder-setting.js";
import { meanSquaredError } from "../../lib/image/sample-tiles.js";
import { closeAllModels } from "../../lib/model/sessions.js";
import { restore } from "../../lib/restore/restore.js";
import { BUCKET, type CdnStack, startCdnStack } from "./cdn-stack.js";
import { runCli } from "./cli-helpers.js";

const MODEL = join(import.meta.dirname, "../fixtures/model-random");

/** A photo-like picture: gradients, edges, texture and some noise. */
async function photoJpeg(width: number, height: number, quality: number): Promise<Buffer> {
  const px = Buffer.alloc(width * height * 3);
  let state = 7;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      state = (state * 1664525 + 1013904223) >>> 0;
      const noise = (state >>> 24) / 16;
      const i = (y * width + x) * 3;
      const edge = (Math.floor(x / 37) + Math.floor(y / 29)) % 2 === 0 ? 40 : 0;
      px[i] = Math.min(255, (x * 200) / width + edge + noise);
      px[i + 1] = Math.min(255, 60 + (y * 150) / height + noise);
      px[i + 2] = Math.min(255, 128 + 80 * Math.sin(x / 9) * Math.cos(y / 13) + noise);
    }
  }
  return sharp(px, { raw: { width, height, channels: 3 } })
    .jpeg({ quality, chromaSubsampling: "4:2:0" })
    .toBuffer();
}

after(closeAllModels);

describe("the encoder setting chosen per image (restore)", () => {
  it("keeps the restoration by the rule on the whole image, in fewer bytes than JPEG q95 4:4:4", async () => {
    const input = await photoJpeg(640, 480, 15);
    const options = { modelDir: MODEL, threads: 2 };
    const [lossless, auto, old] = await Promise.all([
      restore(input, { ...options, format: "png" }),
      restore(input, options),
      restore(input, { ...options, quality: 95 }),
    ]);
    assert.ok(lossless.action === "restored" && auto.action === "restored" && old.action === "restored");
    assert.equal(old.description.encoding, "jpeg q95 4:4:4");
    const setting = parseSetting(auto.description.encoding!);
    assert.ok(setting?.format === "jpeg" && setting.flat === true, auto.description.encoding);
    const meta = await sharp(auto.output).metadata();
    assert.equal(meta.chromaSubsampling, setting.chroma, "the file is what the setting says");
    assert.ok(
      auto.output.length < old.output.length,
      `${auto.output.length} against ${old.output.length} bytes`,
    );
    assert.ok((auto.description.timings["search"] ?? 0) > 0, "the search is timed as its own step");

    // The rule, checked on the whole image: the encoding's error against the restored pixels is within
    // (1 − 0.9) of the restoration's change over the model's error transfer (1 for this model), give or
    // take what a sample of tiles misses (the sample is the whole image up to 0.13 MP; this is 0.31 MP).
    const restored = (await decodeImage(lossless.output)).rgb;
    const decoded = (await decodeImage(input)).rgb;
    const encoded = (await decodeImage(auto.output)).rgb;
    const allowed = allowedError(meanSquaredError(restored, decoded), 0.9, 1);
    assert.ok(
      meanSquaredError(restored, encoded) <= allowed * 1.15,
      `${meanSquaredError(restored, encoded)} > ${allowed}`,
    );
    // Keeping more costs more: keepGain 0.99 writes a more faithful, larger file.
    const faithful = await restore(input, { ...options, keepGain: 0.99 });
    assert.ok(faithful.action === "restored" && faithful.output.length > auto.output.length);
  });

  it("UNJPEG_TRELLIS: every JPEG rung is trellis-quantised, the rule still holds, and trellis costs fewer bytes", async () => {
    const input = await photoJpeg(640, 480, 15);
    const options = { modelDir: MODEL, threads: 2 };
    const [lossless, trellised] = await Promise.all([
      restore(input, { ...options, format: "png" }),
      restore(input, { ...options, trellis: true }),
    ]);
    assert.ok(lossless.action === "restored" && trellised.action === "restored");
    const setting = parseSetting(trellised.description.encoding!);
    assert.ok(setting?.format === "jpeg" && setting.trellis === true, trellised.description.encoding);
    const restored = (await decodeImage(lossless.output)).rgb;
    const decoded = (await decodeImage(input)).rgb;
    const encoded = (await decodeImage(trellised.output)).rgb;
    const allowed = allowedError(meanSquaredError(restored, decoded), 0.9, 1);
    assert.ok(meanSquaredError(restored, encoded) <= allowed * 1.15);
    // The same setting without trellis, on the same pixels: more bytes.
    const raw = { raw: { width: 640, height: 480, channels: 3 as const } };
    const plain = await sharp(restored, raw)
      .jpeg(jpegOptions({ ...setting, trellis: false }))
      .toBuffer();
    const withTrellis = await sharp(restored, raw).jpeg(jpegOptions(setting)).toBuffer();
    assert.ok(withTrellis.length < plain.length, `${withTrellis.length} against ${plain.length} bytes`);
  });

  it("restore --json prints the setting; --quality 90 still forces the standard tables at 90, 4:4:4", async () => {
    const folder = await mkdtemp(join(tmpdir(), "unjpeg-encode-"));
    try {
      const input = join(folder, "photo.jpg");
      await writeFile(input, await photoJpeg(200, 150, 20));
      const lines = async (args: string[]) => {
        const run = await runCli([
          "restore",
          "--json",
          "--model",
          MODEL,
          "--out-dir",
          join(folder, "out"),
          ...args,
          input,
        ]);
        assert.equal(run.code, 0, run.stderr);
        return JSON.parse(run.stdout.trim()) as { encoding: string; output: string; outputBytes: number };
      };
      const auto = await lines([]);
      assert.match(auto.encoding, /^jpeg q\d+ 4:[24]:[04] flat prog$/);
      const forced = await lines(["--quality", "90"]);
      assert.equal(forced.encoding, "jpeg q90 4:4:4");
      const meta = await sharp(forced.output).metadata();
      assert.deepEqual([meta.chromaSubsampling, meta.isProgressive], ["4:4:4", false]);
      const webp = await lines(["--format", "webp"]);
      assert.match(webp.encoding, /^webp q\d+ e\d$/);
      const bad = await runCli(["restore", "--quality", "best", input]);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--quality must be auto or an integer from 1 to 100/);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});

describe("derivatives at the CDN origin", () => {
  let stack: CdnStack;
  before(async () => {
    // AVIF whose encoding would never fit next to a restore (as beside a GPU, or on a big image on a CPU).
    const slowAvif = { ...SEEDED_ENCODE_RATES, avif: { fixedMs: 1e6, msPerMegapixel: 1e6 } };
    stack = await startCdnStack({ app: { encodeRates: slowAvif } });
    await stack.put("p/photo.jpg", await photoJpeg(160, 120, 15));
  });
  after(() => stack.close());

  it("records the encoder setting chosen in unjpeg-encode", async () => {
    const response = await fetch(`${stack.url}/p/photo.jpg`);
    assert.equal(response.status, 200);
    const body = new Uint8Array(await response.arrayBuffer());
    const head = await stack.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "p/photo.restored.jpg" }));
    const encoding = head.Metadata?.["unjpeg-encode"];
    assert.match(encoding ?? "", /^jpeg q\d+ 4:[24]:[04] flat prog$/);
    assert.equal((await sharp(body).metadata()).chromaSubsampling, parseSetting(encoding!)!.chroma);
  });

  it("format=auto falls back from AVIF when its encoding would not fit the restore's time; explicit avif is honoured", async () => {
    const auto = () =>
      fetch(`${stack.url}/p/photo.jpg?format=auto`, { headers: { accept: "image/avif,image/webp,*/*" } });
    for (const action of ["restored", "hit"]) {
      const response = await auto();
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("x-unjpeg-action"), action);
      assert.equal(response.headers.get("content-type"), "image/webp");
      assert.equal(response.headers.get("x-unjpeg-format-fallback"), "avif->webp");
      assert.equal((await sharp(new Uint8Array(await response.arrayBuffer())).metadata()).format, "webp");
    }
    const head = await stack.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "p/photo.restored.webp" }));
    assert.match(head.Metadata?.["unjpeg-encode"] ?? "", /^webp q\d+ e\d$/);

    // Asked for by name, AVIF is exempt from the time target.
    const explicit = await fetch(`${stack.url}/p/photo.jpg?format=avif`);
    assert.equal(explicit.status, 200);
    assert.equal(explicit.headers.get("content-type"), "image/avif");
    assert.equal(explicit.headers.get("x-unjpeg-format-fallback"), null);
    await explicit.arrayBuffer();
    // Once stored, a derivative is served as stored: format=auto now gets the AVIF, with no fallback.
    const stored = await auto();
    assert.equal(stored.headers.get("x-unjpeg-action"), "hit");
    assert.equal(stored.headers.get("content-type"), "image/avif");
    assert.equal(stored.headers.get("x-unjpeg-format-fallback"), null);
    await stored.arrayBuffer();
  });
});
