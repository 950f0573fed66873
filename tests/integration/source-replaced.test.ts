/**
 * A source replaced while the core reads it, on a server that ignores If-Match on GET (s3rver, as some
 * S3-compatible stores): the read of the rest fails (`InvalidRange` when the new object is shorter, an
 * aborted body otherwise) where S3 would answer 412. The core looks at the source again: another ETag
 * means `superseded` (the newer version's own event does the work), never a failure. A read that fails
 * while the source is unchanged stays a failure, classified by the one classification.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { S3Client } from "@aws-sdk/client-s3";
import type { Deriver } from "../../lib/storage/derive.js";
import { createDeriver } from "../../lib/storage/deriver.js";
import { LOCAL_CREDENTIALS } from "../../lib/storage/local-s3.js";
import { handleObjectEvent } from "../../lib/storage/object-event.js";
import { createS3Client, headObject } from "../../lib/storage/s3.js";
import { BUCKET, makeJpeg, startTestStack, type TestStack } from "./upload-helpers.js";

const HEADER_BYTES = 2048;
let stack: TestStack;
let deriver: Deriver;
/** Run once before the core's next GET of a source's rest (a ranged GET not from byte 0). */
let beforeRest: (() => Promise<void>) | undefined;

function onRestGet(s3: S3Client): void {
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      const range = (args.input as { Range?: string }).Range;
      const hook = beforeRest;
      if (
        context.commandName === "GetObjectCommand" &&
        range !== undefined &&
        !range.startsWith("bytes=0-")
      ) {
        beforeRest = undefined;
        await hook?.();
      }
      return next(args);
    },
    { step: "initialize", name: "before-rest" },
  );
}

before(async () => {
  stack = await startTestStack();
  const s3 = createS3Client(stack.config, { credentials: LOCAL_CREDENTIALS });
  onRestGet(s3);
  deriver = await createDeriver({ ...stack.config, bucket: BUCKET }, { s3, headerBytes: HEADER_BYTES });
});
after(async () => {
  deriver?.s3.destroy();
  await stack?.close();
});

const created = (key: string) =>
  ({ change: "created", bucket: BUCKET, key, name: "ObjectCreated:Put" }) as const;

test("replaced by a shorter object while its rest is read (InvalidRange on s3rver): superseded", async () => {
  const key = "replaced/short.jpg";
  const first = await makeJpeg(15, 640, 480, 1);
  const second = await makeJpeg(15, 16, 16, 2);
  assert.ok(first.byteLength > HEADER_BYTES && second.byteLength < HEADER_BYTES);
  await stack.put(key, first);
  beforeRest = async () => void (await stack.put(key, second));
  const result = await handleObjectEvent(deriver, created(key));
  assert.deepEqual([result.status, result.reason], ["skipped", "superseded"], result.message);
  assert.equal(result.failure, undefined);
  assert.equal(await headObject(stack.s3, BUCKET, "replaced/short.restored.jpg"), null, "nothing written");
});

test("replaced by a longer object while its rest is read (the bytes of another version): superseded", async () => {
  const key = "replaced/long.jpg";
  await stack.put(key, await makeJpeg(15, 640, 480, 3));
  beforeRest = async () => void (await stack.put(key, new Uint8Array(64 * 1024).fill(7)));
  const result = await handleObjectEvent(deriver, created(key));
  assert.deepEqual([result.status, result.reason], ["skipped", "superseded"], result.message);
  assert.equal(await headObject(stack.s3, BUCKET, "replaced/long.restored.jpg"), null, "nothing written");
});

test("a read that fails while the source is unchanged is a failure, not superseded", async () => {
  const key = "replaced/unchanged.jpg";
  await stack.put(key, await makeJpeg(15, 640, 480, 4));
  beforeRest = () =>
    Promise.reject(Object.assign(new Error("socket hang up"), { name: "Error", code: "ECONNRESET" }));
  const result = await handleObjectEvent(deriver, created(key));
  assert.equal(result.status, "failed", result.message);
  assert.equal(result.failure?.kind, "temporary");
});
