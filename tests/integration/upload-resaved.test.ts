/**
 * Re-saved uploads through the upload handler on a real s3rver (issue 17): a QF 95 file whose pixels carry
 * an earlier QF 10 compression costs one more ranged GET than its headers' (the first part of its scan),
 * is restored, and its derivative records the earlier quality; a plain QF 95 file is skipped after the
 * same GET; with the check off, one GET of the headers as before; a large file's check reads a bounded
 * prefix of its scan.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import sharp from "sharp";
import { createUploadHandler } from "../../handlers/s3-upload.js";
import { inspectJpeg, type JpegInspection } from "../../lib/jpeg/index.js";
import { RESAVED_SCAN_BYTES } from "../../lib/restore/resaved.js";
import type { Deriver } from "../../lib/storage/derive.js";
import { jpegOf, photoLike, resaved } from "../unit/resave-tools.js";
import { BUCKET, startTestStack, type TestStack, testDeriver } from "./upload-helpers.js";

type Line = Record<string, unknown>;
const HEADER_BYTES = 64 * 1024;

/** A stack whose upload events reach the handler, the GETs it sends recorded (ranges). */
function uploadStack(env: Record<string, string> = {}) {
  let stack: TestStack;
  let deriver: Deriver;
  const lines: Line[] = [];
  const gets: string[] = [];
  const handler = createUploadHandler(() => Promise.resolve(deriver), {
    sink: (line) => lines.push(JSON.parse(line) as Line),
  });
  before(async () => {
    stack = await startTestStack({ handler: (event) => handler(event, {} as never), env });
    deriver = await testDeriver(stack);
    stack.s3.middlewareStack.add(
      (next, context) => async (args) => {
        const range = (args.input as { Range?: string }).Range;
        if (context.commandName === "GetObjectCommand") gets.push(range ?? "whole");
        return next(args);
      },
      { step: "initialize", name: "countGets" },
    );
  });
  after(() => stack?.close());
  return {
    gets,
    /** Uploads and waits for its event: the handler's last decision line about the key. */
    async upload(key: string, bytes: Uint8Array): Promise<Line> {
      gets.length = 0;
      await stack.put(key, bytes);
      await stack.local.idle();
      return lines.filter((l) => l["key"] === key).at(-1)!;
    },
    head: (key: string) => stack.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key })),
  };
}

const picture = photoLike(640, 480, 5);

describe("re-saved uploads (s3rver + upload handler + real restore)", () => {
  const { gets, upload, head } = uploadStack();

  test("a re-saved upload: one more ranged GET, restored, the earlier quality in the metadata", async () => {
    const bytes = await resaved(picture, 10, 95, [3, 5]);
    assert.ok(bytes.length > HEADER_BYTES, `${bytes.length} bytes: larger than the headers' read`);
    const decision = await upload("resaved/photo.jpg", bytes);
    assert.equal(decision["Outcome"], "written");
    assert.deepEqual(gets, [`bytes=0-${HEADER_BYTES - 1}`, `bytes=${HEADER_BYTES}-${bytes.length - 1}`]);
    const meta = (await head("resaved/photo.restored.jpg")).Metadata ?? {};
    assert.equal(meta["unjpeg-quality"], "95");
    assert.ok(Math.abs(Number(meta["unjpeg-earlier-quality"]) - 10) <= 5, meta["unjpeg-earlier-quality"]);
  });

  test("a plain QF 95 upload: the same two GETs, then skipped", async () => {
    const bytes = await jpegOf(picture, 95);
    assert.ok(bytes.length > HEADER_BYTES);
    const checked = await upload("single/photo.jpg", bytes);
    assert.equal(checked["Outcome"], "skipped");
    assert.equal(checked["Reason"], "high-quality");
    assert.deepEqual(gets, [`bytes=0-${HEADER_BYTES - 1}`, `bytes=${HEADER_BYTES}-${bytes.length - 1}`]);
  });

  test("a large upload: the check reads a bounded prefix of the scan", async () => {
    const width = 1600;
    const height = 1200;
    const noise = Buffer.alloc(width * height * 3);
    let state = 9;
    for (let i = 0; i < noise.length; i++) {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      noise[i] = state >>> 24;
    }
    const bytes = await sharp(noise, { raw: { width, height, channels: 3 } })
      .jpeg({ quality: 95, chromaSubsampling: "4:4:4" })
      .toBuffer();
    const { scanStart } = inspectJpeg(bytes, { fileSize: bytes.length }) as JpegInspection;
    assert.ok(bytes.length > scanStart + RESAVED_SCAN_BYTES);
    const decision = await upload("large/noise.jpg", bytes);
    assert.equal(decision["Reason"], "high-quality");
    assert.deepEqual(gets, [
      `bytes=0-${HEADER_BYTES - 1}`,
      `bytes=${HEADER_BYTES}-${scanStart + RESAVED_SCAN_BYTES - 1}`,
    ]);
  });
});

describe("re-saved uploads with UNJPEG_DETECT_RESAVED=false", () => {
  const { gets, upload } = uploadStack({ UNJPEG_DETECT_RESAVED: "false" });

  test("skipped from the headers' GET alone, as before", async () => {
    const off = await upload("off/photo.jpg", await resaved(picture, 10, 95, [3, 5]));
    assert.equal(off["Outcome"], "skipped");
    assert.equal(off["Reason"], "high-quality");
    assert.deepEqual(gets, [`bytes=0-${HEADER_BYTES - 1}`]);
  });
});
