/**
 * Output formats that cannot hold the image (AVIF and WebP have a maximum side): `format=auto` on the CDN
 * origin falls back to one that can and says so; an explicit format, and the CLI, refuse with a typed
 * error before the model runs.
 */
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import sharp from "sharp";
import { BUCKET, type CdnStack, makeJpeg, startCdnStack } from "./cdn-stack.js";

/** Encodes assumed instant: these tests are about what a format can hold, not how long it takes. */
const FAST = { fixedMs: 0, msPerMegapixel: 0 };
const FAST_ENCODES = { jpeg: FAST, png: FAST, webp: FAST, avif: FAST };

import { runCli } from "./cli-helpers.js";

describe("format limits", () => {
  let stack: CdnStack;
  before(async () => {
    stack = await startCdnStack({ app: { encodeRates: FAST_ENCODES } });
    await stack.put("p/strip.jpg", await makeJpeg(10, 20000, 16)); // restored
    await stack.put("p/strip-fine.jpg", await makeJpeg(95, 20000, 16)); // served as it is, transcoded
  });
  after(() => stack.close());

  test("format=auto falls back from a format that cannot hold the image (reliability case 6)", async () => {
    const auto = (path: string, accept: string) =>
      fetch(`${stack.url}${path}?format=auto`, { headers: { accept } });
    const avifOrWebp = "image/avif,image/webp,*/*";

    // An explicit AVIF is refused before the model runs; nothing is stored.
    const explicit = await fetch(`${stack.url}/p/strip.jpg?format=avif`);
    assert.equal(explicit.status, 422);
    assert.equal(((await explicit.json()) as { code: string }).code, "IMAGE_TOO_LARGE_FOR_FORMAT");
    assert.equal(stack.restores(), 0);

    // Neither AVIF (16,384 px a side) nor WebP (16,383) holds 20,000 px: JPEG it is.
    for (const [path, action] of [
      ["/p/strip.jpg", "restored"],
      ["/p/strip.jpg", "hit"],
      ["/p/strip-fine.jpg", "skipped"],
    ] as const) {
      const response = await auto(path, avifOrWebp);
      assert.equal(response.status, 200, `${path}: ${response.status}`);
      assert.equal(response.headers.get("x-unjpeg-action"), action, path);
      assert.equal(response.headers.get("content-type"), "image/jpeg", path);
      assert.equal(response.headers.get("x-unjpeg-format-fallback"), "avif->jpeg", path);
      assert.equal(response.headers.get("vary"), "Accept", path);
      const { format, width, height } = await sharp(new Uint8Array(await response.arrayBuffer())).metadata();
      assert.deepEqual([format, width, height], ["jpeg", 20000, 16], path);
    }
    assert.equal(stack.restores(), 1);
    await stack.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "p/strip.restored.jpg" }));

    // 16,384 px: AVIF holds it, WebP does not.
    await stack.put("p/edge.jpg", await makeJpeg(10, 16384, 16));
    const avif = await auto("/p/edge.jpg", avifOrWebp);
    assert.equal(avif.headers.get("content-type"), "image/avif");
    assert.equal(avif.headers.get("x-unjpeg-format-fallback"), null);
    await avif.arrayBuffer();
    const webpOnly = await auto("/p/edge.jpg", "image/webp,*/*");
    assert.equal(webpOnly.status, 200);
    assert.equal(webpOnly.headers.get("content-type"), "image/jpeg");
    assert.equal(webpOnly.headers.get("x-unjpeg-format-fallback"), "webp->jpeg");
    await webpOnly.arrayBuffer();
  });

  test("restore --format avif on an image AVIF cannot hold fails before the model (reliability case 6)", async () => {
    const folder = await mkdtemp(join(tmpdir(), "unjpeg-format-limit-"));
    try {
      const input = join(folder, "strip.jpg");
      await writeFile(input, await makeJpeg(10, 20000, 16));
      // A model folder that does not exist: the refusal must come before the model is opened.
      const run = await runCli(["restore", "--json", "--format", "avif", "--model", "/nonexistent", input]);
      assert.equal(run.code, 1, run.stderr);
      const line = JSON.parse(run.stdout.trim()) as { action: string; error: { code: string } };
      assert.deepEqual([line.action, line.error.code], ["failed", "IMAGE_TOO_LARGE_FOR_FORMAT"]);
      assert.deepEqual(await readdir(folder), ["strip.jpg"]);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});
