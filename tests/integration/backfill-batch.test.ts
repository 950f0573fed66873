/**
 * The S3 Batch Operations handler on a real s3rver with the real restore: schema 1.0 and 2.0 invocations,
 * and each result code from real outcomes (an unreachable S3 for the temporary failure).
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Context } from "aws-lambda";
import { createBatchHandler } from "../../handlers/batch-operations.js";
import type { BatchResponse } from "../../lib/backfill/batch.js";
import { loadConfig } from "../../lib/config.js";
import { createDeriver } from "../../lib/storage/deriver.js";
import { LOCAL_CREDENTIALS } from "../../lib/storage/local-s3.js";
import { createS3Client } from "../../lib/storage/s3.js";
import { headMetadata, startStackWith } from "./backfill-helpers.js";
import { BUCKET, TEST_MODEL_DIR, type TestStack, testDeriver } from "./upload-helpers.js";

let stack: TestStack;
before(async () => {
  stack = await startStackWith((bodies) => [
    ["batch/high.jpg", bodies.high[0]!],
    ["batch/low one.jpg", bodies.low[0]!],
    ["batch/low2.jpg", bodies.low[1]!],
    ["batch/broken.jpg", bodies.broken[0]!],
  ]);
});
after(() => stack?.close());

const context = { getRemainingTimeInMillis: () => 120_000 } as unknown as Context;
const task = (taskId: string, key: string) => ({
  taskId,
  s3Key: encodeURIComponent(key).replace(/%20/g, "+").replace(/%2F/g, "/"),
  s3VersionId: null,
});

test("schema 1.0: restored, skipped, corrupt and missing objects get their result codes", async () => {
  const handler = createBatchHandler(await testDeriver(stack));
  const arn = `arn:aws:s3:::${BUCKET}`;
  const response = (await handler(
    {
      invocationSchemaVersion: "1.0",
      invocationId: "inv-1",
      job: { id: "job-1" },
      tasks: [
        { ...task("t1", "batch/low one.jpg"), s3BucketArn: arn },
        { ...task("t2", "batch/high.jpg"), s3BucketArn: arn },
        { ...task("t3", "batch/broken.jpg"), s3BucketArn: arn },
        { ...task("t4", "batch/nothing here.jpg"), s3BucketArn: arn },
      ],
    },
    context,
  )) as BatchResponse;
  assert.equal(response.invocationSchemaVersion, "1.0");
  assert.equal(response.invocationId, "inv-1");
  assert.equal(response.treatMissingKeysAs, "PermanentFailure");
  const byId = Object.fromEntries(response.results.map((r) => [r.taskId, r]));
  assert.equal(byId["t1"]!.resultCode, "Succeeded");
  assert.match(byId["t1"]!.resultString, /^restored \(quality 20\) to batch\/low one\.restored\.jpg/);
  assert.equal((await headMetadata(stack.s3, "batch/low one.restored.jpg"))?.["unjpeg-derivative"], "1");
  assert.equal(byId["t2"]!.resultCode, "Succeeded");
  assert.match(byId["t2"]!.resultString, /^skipped: high-quality \(quality 95\)/);
  // A corrupt image is a skip with its reason (the one object-event policy), not a failure.
  assert.equal(byId["t3"]!.resultCode, "Succeeded");
  assert.match(byId["t3"]!.resultString, /^skipped: corrupt.*: .*(premature end|cannot decode|JPEG_)/);
  assert.equal(byId["t4"]!.resultCode, "PermanentFailure");
  assert.match(byId["t4"]!.resultString, /not found/);
});

test("schema 2.0: bucket names and user arguments (format)", async () => {
  const handler = createBatchHandler(await testDeriver(stack));
  const response = (await handler(
    {
      invocationSchemaVersion: "2.0",
      invocationId: "inv-2",
      job: { id: "job-2", userArguments: { format: "webp" } },
      tasks: [{ ...task("t1", "batch/low2.jpg"), s3Bucket: BUCKET }],
    },
    context,
  )) as BatchResponse;
  assert.deepEqual(
    response.results.map((r) => r.resultCode),
    ["Succeeded"],
  );
  assert.ok((await headMetadata(stack.s3, "batch/low2.restored.webp")) !== null);
  const bad = (await handler(
    {
      ...{
        invocationSchemaVersion: "2.0",
        invocationId: "inv-3",
        job: { id: "j", userArguments: { format: "gif" } },
      },
      tasks: [{ ...task("t1", "batch/low2.jpg"), s3Bucket: BUCKET }],
    },
    context,
  )) as BatchResponse;
  assert.equal(bad.results[0]!.resultCode, "PermanentFailure");
  assert.match(bad.results[0]!.resultString, /format/);
});

test("S3 unreachable: TemporaryFailure, so the job retries the task", async () => {
  const config = loadConfig({
    UNJPEG_S3_ENDPOINT: "http://127.0.0.1:9",
    UNJPEG_S3_FORCE_PATH_STYLE: "true",
    UNJPEG_MODEL_DIR: TEST_MODEL_DIR,
  });
  const deriver = await createDeriver(config, {
    s3: createS3Client(config, { credentials: LOCAL_CREDENTIALS, maxAttempts: 1 }),
  });
  const handler = createBatchHandler(deriver);
  const response = (await handler(
    {
      invocationSchemaVersion: "2.0",
      invocationId: "inv-4",
      job: { id: "j" },
      tasks: [{ ...task("t1", "batch/high.jpg"), s3Bucket: BUCKET }],
    },
    context,
  )) as BatchResponse;
  assert.equal(response.results[0]!.resultCode, "TemporaryFailure", response.results[0]!.resultString);
});
