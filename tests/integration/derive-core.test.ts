/**
 * lib/storage/derive.ts on a real s3rver with the real restore and the random test model: a listed
 * object's first bytes are read once (the early triage's bytes are reused for the restore), and a restore
 * that reports another model than the deriver checks against fails loudly instead of writing.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type Deriver, deriveObject, ModelMismatchError } from "../../lib/storage/derive.js";
import { headObject } from "../../lib/storage/s3.js";
import { photoLike, resaved } from "../unit/resave-tools.js";
import { BUCKET, makeJpeg, putBytes, startTestStack, type TestStack, testDeriver } from "./upload-helpers.js";

const HEADER_BYTES = 1024;
let stack: TestStack;
let deriver: Deriver;
before(async () => {
  stack = await startTestStack();
  // A small header read, so the test JPEGs are larger than it and the restore needs the rest.
  deriver = await testDeriver(stack, { headerBytes: HEADER_BYTES });
});
after(() => stack?.close());

const listedOf = async (key: string) => {
  const head = await headObject(stack.s3, BUCKET, key);
  assert.ok(head?.eTag !== undefined);
  return { eTag: head.eTag, size: head.size };
};

test("listed and in need of a restore: every source byte is read once", async () => {
  const body = await makeJpeg(30, 256, 192, 3);
  assert.ok(body.byteLength > 2 * HEADER_BYTES, `test JPEG of ${body.byteLength} bytes is too small`);
  await putBytes(stack.s3, "listed/low.jpg", body);
  const outcome = await deriveObject(deriver, {
    bucket: BUCKET,
    key: "listed/low.jpg",
    listed: await listedOf("listed/low.jpg"),
  });
  assert.equal(outcome.action, "written");
  assert.equal(outcome.bytesRead, body.byteLength);
  if (outcome.action === "written") assert.equal(outcome.inputBytes, body.byteLength);
  assert.notEqual(await headObject(stack.s3, BUCKET, "listed/low.restored.jpg"), null);
});

test("listed and re-saved (the backfill's path): restored, its bytes read once, the earlier quality stored", async () => {
  const body = await resaved(photoLike(320, 240, 6), 12, 94, [5, 0]);
  assert.ok(body.byteLength > 2 * HEADER_BYTES);
  await putBytes(stack.s3, "listed/resaved.jpg", body);
  const outcome = await deriveObject(deriver, {
    bucket: BUCKET,
    key: "listed/resaved.jpg",
    listed: await listedOf("listed/resaved.jpg"),
  });
  assert.equal(outcome.action, "written");
  assert.equal(outcome.bytesRead, body.byteLength, "the re-saved check's bytes are the restore's");
  const head = await headObject(stack.s3, BUCKET, "listed/resaved.restored.jpg");
  assert.equal(head?.metadata["unjpeg-quality"], "94");
  assert.ok(Math.abs(Number(head?.metadata["unjpeg-earlier-quality"]) - 12) <= 5);
});

test("listed with an ETag that is no longer the object's: nothing reused, the object as it is now restored", async () => {
  const body = await makeJpeg(30, 256, 192, 4);
  await putBytes(stack.s3, "listed/changed.jpg", body);
  const now = await listedOf("listed/changed.jpg");
  const outcome = await deriveObject(deriver, {
    bucket: BUCKET,
    key: "listed/changed.jpg",
    listed: { eTag: "0123456789abcdef0123456789abcdef", size: now.size },
  });
  assert.equal(outcome.action, "written");
  if (outcome.action === "written") {
    assert.equal(outcome.sourceETag, now.eTag);
    assert.equal(outcome.inputBytes, body.byteLength);
  }
});

test("dry run of a listed object reads its headers once", async () => {
  const body = await makeJpeg(30, 256, 192, 5);
  await putBytes(stack.s3, "listed/dry.jpg", body);
  const outcome = await deriveObject(deriver, {
    bucket: BUCKET,
    key: "listed/dry.jpg",
    dryRun: true,
    listed: await listedOf("listed/dry.jpg"),
  });
  assert.equal(outcome.action, "would-write");
  assert.ok(outcome.bytesRead <= HEADER_BYTES * 2, `${outcome.bytesRead} bytes read for a dry run`);
  const fresh = await deriveObject(deriver, { bucket: BUCKET, key: "listed/dry.jpg", dryRun: true });
  assert.equal(outcome.bytesRead, fresh.bytesRead, "listed and unlisted dry runs read the same bytes");
});

test("a restore that ran another model than the deriver's: MODEL_MISMATCH, nothing written", async () => {
  await putBytes(stack.s3, "mismatch/low.jpg", await makeJpeg(15, 96, 64, 6));
  const other: Deriver = { ...deriver, model: "some-other-model@9.9.9" };
  await assert.rejects(deriveObject(other, { bucket: BUCKET, key: "mismatch/low.jpg" }), (error) => {
    assert.ok(error instanceof ModelMismatchError);
    assert.equal(error.code, "MODEL_MISMATCH");
    assert.match(error.message, /model-random@0\.0\.0-random.*some-other-model@9\.9\.9/);
    return true;
  });
  assert.equal(await headObject(stack.s3, BUCKET, "mismatch/low.restored.jpg"), null);
});
