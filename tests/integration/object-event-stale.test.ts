/**
 * A newer version of a source that is skipped for its content takes the older version's derivative with
 * it (the one object-event policy), and the guards hold: a derivative of the skipped version itself stays,
 * and so does one whose source changed again before the delete. Real s3rver, real restore.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { handleObjectEvent } from "../../lib/storage/object-event.js";
import { removeStaleDerivative } from "../../lib/storage/remove.js";
import { headObject } from "../../lib/storage/s3.js";
import { BUCKET, makeJpeg, startTestStack, type TestStack, testDeriver } from "./upload-helpers.js";

let stack: TestStack;
before(async () => {
  stack = await startTestStack();
});
after(() => stack?.close());

const created = (key: string) =>
  ({ change: "created", bucket: BUCKET, key, name: "ObjectCreated:Put" }) as const;

test("a skipped newer version (high quality) deletes the older version's derivative", async () => {
  const deriver = await testDeriver(stack);
  const key = "stale/cat.jpg";
  await stack.put(key, await makeJpeg(12, 96, 64, 1));
  assert.equal((await handleObjectEvent(deriver, created(key))).status, "written");
  assert.notEqual(await headObject(stack.s3, BUCKET, "stale/cat.restored.jpg"), null);

  await stack.put(key, await makeJpeg(97, 96, 64, 2));
  const result = await handleObjectEvent(deriver, created(key));
  assert.deepEqual([result.status, result.reason], ["skipped", "high-quality"]);
  assert.equal(result.staleDeleted, "stale/cat.restored.jpg");
  assert.equal(await headObject(stack.s3, BUCKET, "stale/cat.restored.jpg"), null);
  assert.notEqual(await headObject(stack.s3, BUCKET, key), null, "the source stays");

  // Nothing left to delete: the same event again is a plain skip.
  const again = await handleObjectEvent(deriver, created(key));
  assert.deepEqual([again.status, again.reason, again.staleDeleted], ["skipped", "high-quality", undefined]);
});

test("a corrupt newer version deletes it too", async () => {
  const deriver = await testDeriver(stack);
  const key = "stale/dog.jpg";
  await stack.put(key, await makeJpeg(12, 96, 64, 3));
  assert.equal((await handleObjectEvent(deriver, created(key))).status, "written");
  const whole = await makeJpeg(12, 96, 64, 4);
  await stack.put(key, whole.subarray(0, Math.floor(whole.byteLength * 0.7)));
  const result = await handleObjectEvent(deriver, created(key));
  assert.deepEqual(
    [result.status, result.reason, result.staleDeleted],
    ["skipped", "corrupt", "stale/dog.restored.jpg"],
  );
  assert.equal(await headObject(stack.s3, BUCKET, "stale/dog.restored.jpg"), null);
});

test("a derivative of the skipped version itself (another model's) stays", async () => {
  const key = "stale/owl.jpg";
  await stack.put(key, await makeJpeg(40, 96, 64, 5));
  const older = await testDeriver(stack, { model: "model-random@0.0.0-random" });
  assert.equal((await handleObjectEvent(older, created(key))).status, "written");
  // Another model, and a threshold under which this very version is now high quality: a skip of the
  // version the derivative was made from, which is stale only by its model.
  const config = { ...stack.config, skipQuality: 30 };
  const newer = await testDeriver({ ...stack, config }, { model: "other@2" });
  const result = await handleObjectEvent(newer, created(key));
  assert.deepEqual(
    [result.status, result.reason, result.staleDeleted],
    ["skipped", "high-quality", undefined],
  );
  assert.notEqual(await headObject(stack.s3, BUCKET, "stale/owl.restored.jpg"), null);
});

test("a source that changed again before the delete keeps the derivative (its own event decides)", async () => {
  const deriver = await testDeriver(stack);
  const key = "stale/fox.jpg";
  await stack.put(key, await makeJpeg(12, 96, 64, 6));
  assert.equal((await handleObjectEvent(deriver, created(key))).status, "written");
  const derivative = (await headObject(stack.s3, BUCKET, "stale/fox.restored.jpg"))!;
  await stack.put(key, await makeJpeg(97, 96, 64, 7)); // the skipped version...
  const skipped = (await headObject(stack.s3, BUCKET, key))!;
  await stack.put(key, await makeJpeg(12, 96, 64, 8)); // ...replaced again before the delete
  const deleted = await removeStaleDerivative(deriver, {
    bucket: BUCKET,
    key,
    skippedETag: skipped.eTag!,
    derivative,
  });
  assert.equal(deleted, null);
  assert.notEqual(await headObject(stack.s3, BUCKET, "stale/fox.restored.jpg"), null);
});

test("a dry run deletes nothing", async () => {
  const deriver = await testDeriver(stack);
  const key = "stale/elk.jpg";
  await stack.put(key, await makeJpeg(12, 96, 64, 9));
  assert.equal((await handleObjectEvent(deriver, created(key))).status, "written");
  await stack.put(key, await makeJpeg(97, 96, 64, 10));
  const result = await handleObjectEvent(deriver, created(key), { dryRun: true });
  assert.deepEqual(
    [result.status, result.reason, result.staleDeleted],
    ["skipped", "high-quality", undefined],
  );
  assert.notEqual(await headObject(stack.s3, BUCKET, "stale/elk.restored.jpg"), null);
});
