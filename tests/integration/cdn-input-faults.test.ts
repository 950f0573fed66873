/**
 * The CDN origin on s3rver when the input is at fault: sources that do not decode, formats that cannot
 * hold the image. Each answer is a typed 4xx with a short cache time, never a 500, and a failure is
 * remembered for the source's ETag so later requests do not read the source again.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { S3Client } from "@aws-sdk/client-s3";
import sharp from "sharp";
import { type CdnStack, makeJpeg, startCdnStack } from "./cdn-stack.js";

/** Counts the GETs of each key this client sends (ranged or whole). */
function countGets(s3: S3Client): Map<string, number> {
  const gets = new Map<string, number>();
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === "GetObjectCommand") {
        const key = (args.input as { Key: string }).Key;
        gets.set(key, (gets.get(key) ?? 0) + 1);
      }
      return next(args);
    },
    { step: "initialize", name: "count-gets" },
  );
  return gets;
}

/** 56 bytes: the JPEG signature, then HTML. */
const POLYGLOT = (() => {
  const bytes = new Uint8Array(56).fill(0x20);
  bytes.set([0xff, 0xd8, 0xff, 0xe0]);
  bytes.set(new TextEncoder().encode("<html><script>alert(document.cookie)</script></html>"), 4);
  return bytes;
})();

/** An SOI marker followed by `size` bytes of junk. */
function junkAfterSoi(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  let state = 12345;
  for (let i = 0; i < size; i++) {
    state = (state * 1664525 + 1013904223) >>> 0;
    bytes[i] = state >>> 24;
  }
  bytes.set([0xff, 0xd8, 0xff]);
  return bytes;
}

const answer = async (response: Response) => ({
  status: response.status,
  cache: response.headers.get("cache-control"),
  code: response.headers.get("content-type")?.startsWith("application/json")
    ? ((await response.json()) as { code: string }).code
    : `${(await response.arrayBuffer()).byteLength} bytes of ${response.headers.get("content-type")}`,
});

describe("CDN origin: input at fault", () => {
  let stack: CdnStack;
  let gets: Map<string, number>;
  before(async () => {
    stack = await startCdnStack();
    gets = countGets(stack.s3);
    const twelveBit = readFileSync(join(import.meta.dirname, "../fixtures/jpeg/synthetic-12bit-q85.jpg"));
    await stack.put("p/12bit.jpg", twelveBit);
    await stack.put("p/polyglot.jpg", POLYGLOT);
    await stack.put("p/junk.jpg", junkAfterSoi(8 * 1024 * 1024));
    await stack.put("p/wide.jpg", await makeJpeg(95, 17000, 40));
  });
  after(() => stack.close());

  test("encoder and decoder failures are typed 4xx answers, remembered per source (reliability case 4)", async () => {
    const brief = "public, max-age=60";
    for (const [path, status, code] of [
      ["/p/12bit.jpg?format=webp", 415, "NOT_DECODABLE"],
      ["/p/polyglot.jpg?format=png", 415, "NOT_DECODABLE"],
      ["/p/polyglot.jpg?format=avif", 415, "NOT_DECODABLE"],
      ["/p/polyglot.jpg?quality=50", 415, "NOT_DECODABLE"],
      ["/p/junk.jpg?format=webp", 415, "NOT_DECODABLE"],
      ["/p/wide.jpg?format=webp", 422, "IMAGE_TOO_LARGE_FOR_FORMAT"],
    ] as const) {
      assert.deepEqual(
        await answer(await fetch(`${stack.url}${path}`)),
        { status, cache: brief, code },
        path,
      );
    }
    // The 8 MiB of junk was read once; asking again answers from memory after a HEAD.
    const readsBefore = gets.get("p/junk.jpg") ?? 0;
    for (let i = 0; i < 3; i++) {
      const again = await answer(await fetch(`${stack.url}/p/junk.jpg?format=webp`));
      assert.deepEqual(again, { status: 415, cache: brief, code: "NOT_DECODABLE" });
    }
    assert.equal(gets.get("p/junk.jpg") ?? 0, readsBefore, "no GET of the source after its failure");
    // A new version of the source (a new ETag) is judged afresh.
    await stack.put("p/junk.jpg", await makeJpeg(95, 96, 64));
    const fixed = await fetch(`${stack.url}/p/junk.jpg?format=webp`);
    assert.equal(fixed.status, 200);
    assert.equal(fixed.headers.get("content-type"), "image/webp");
    await fixed.arrayBuffer();
  });

  test("junk after SOI is not served as an image (reliability case 5)", async () => {
    await stack.put("p/polyglot-plain.jpg", POLYGLOT);
    await stack.put("p/junk-plain.jpg", junkAfterSoi(1024 * 1024));
    const fine = await makeJpeg(95, 96, 64, 5);
    await stack.put("p/fine.jpg", fine);
    const cmyk = new Uint8Array(await sharp(fine).toColourspace("cmyk").jpeg({ quality: 60 }).toBuffer());
    await stack.put("p/cmyk.jpg", cmyk);
    for (const path of ["/p/polyglot-plain.jpg", "/p/junk-plain.jpg", "/p/12bit.jpg"]) {
      const response = await fetch(`${stack.url}${path}`);
      assert.deepEqual(
        await answer(response),
        { status: 415, cache: "public, max-age=60", code: "NOT_DECODABLE" },
        path,
      );
    }
    // Remembered: asking again reads nothing but the source's HEAD.
    const reads = gets.get("p/polyglot-plain.jpg") ?? 0;
    assert.equal((await fetch(`${stack.url}/p/polyglot-plain.jpg`)).status, 415);
    assert.equal(gets.get("p/polyglot-plain.jpg") ?? 0, reads);
    // What decodes is still served as it is: a high-quality JPEG, a CMYK one.
    for (const [path, bytes, reason] of [
      ["/p/fine.jpg", fine, "high-quality"],
      ["/p/cmyk.jpg", cmyk, "unsupported"],
    ] as const) {
      const response = await fetch(`${stack.url}${path}`);
      assert.equal(response.status, 200, path);
      assert.equal(response.headers.get("x-unjpeg-skip-reason"), reason, path);
      assert.equal(response.headers.get("cache-control"), "public, max-age=31536000", path);
      assert.deepEqual(new Uint8Array(await response.arrayBuffer()), bytes, path);
    }
  });
});
