import assert from "node:assert/strict";
import { test } from "node:test";
import {
  batchResponse,
  parseBatchInvocation,
  resultOfError,
  resultOfOutcome,
} from "../../lib/backfill/batch.js";
import { UnjpegError } from "../../lib/errors.js";
import type { DeriveOutcome } from "../../lib/storage/derive.js";

// The invocation examples of AWS's "Invoke AWS Lambda function" Batch Operations documentation.
const SCHEMA_1 = {
  invocationSchemaVersion: "1.0",
  invocationId: "YXNkbGZqYWRmaiBhc2RmdW9hZHNmZGpmaGFzbGtkaGZza2RmaAo",
  job: { id: "f3cc4f60-61f6-4a2b-8a21-d07600c373ce" },
  tasks: [
    {
      taskId: "dGFza2lkZ29lc2hlcmUK",
      s3Key: "customerImage1.jpg",
      s3VersionId: "1",
      s3BucketArn: "arn:aws:s3:us-east-1:0123456788:amzn-s3-demo-bucket",
    },
  ],
};
const SCHEMA_2 = {
  invocationSchemaVersion: "2.0",
  invocationId: "YXNkbGZqYWRmaiBhc2RmdW9hZHNmZGpmaGFzbGtkaGZza2RmaAo",
  job: {
    id: "f3cc4f60-61f6-4a2b-8a21-d07600c373ce",
    userArguments: { k1: "v1", k2: "v2" },
  },
  tasks: [
    {
      taskId: "dGFza2lkZ29lc2hlcmUK",
      s3Key: "customerImage1.jpg",
      s3VersionId: null,
      s3Bucket: "amzn-s3-demo-bucket",
    },
  ],
};

test("schema 1.0: bucket from the ARN, version kept", () => {
  const invocation = parseBatchInvocation(SCHEMA_1);
  assert.equal(invocation.schemaVersion, "1.0");
  assert.equal(invocation.jobId, "f3cc4f60-61f6-4a2b-8a21-d07600c373ce");
  assert.deepEqual(invocation.tasks, [
    {
      taskId: "dGFza2lkZ29lc2hlcmUK",
      bucket: "amzn-s3-demo-bucket",
      key: "customerImage1.jpg",
      versionId: "1",
    },
  ]);
  const classic = parseBatchInvocation({
    ...SCHEMA_1,
    tasks: [{ ...SCHEMA_1.tasks[0], s3BucketArn: "arn:aws:s3:::photos" }],
  });
  assert.equal(classic.tasks[0]!.bucket, "photos");
});

test("schema 2.0: bucket name, null version, user arguments", () => {
  const invocation = parseBatchInvocation(SCHEMA_2);
  assert.equal(invocation.schemaVersion, "2.0");
  assert.deepEqual(invocation.userArguments, { k1: "v1", k2: "v2" });
  assert.deepEqual(invocation.tasks, [
    {
      taskId: "dGFza2lkZ29lc2hlcmUK",
      bucket: "amzn-s3-demo-bucket",
      key: "customerImage1.jpg",
      versionId: undefined,
    },
  ]);
});

test("keys arrive URL-encoded, as in the job's CSV manifest", () => {
  const invocation = parseBatchInvocation({
    ...SCHEMA_2,
    tasks: [{ ...SCHEMA_2.tasks[0], s3Key: "summer+2024/caf%C3%A9+%2B1.jpg" }],
  });
  assert.equal(invocation.tasks[0]!.key, "summer 2024/café +1.jpg");
});

test("anything else is refused with a clear error", () => {
  assert.throws(() => parseBatchInvocation({ ...SCHEMA_1, invocationSchemaVersion: "3.0" }), {
    code: "BATCH_EVENT_INVALID",
    message: /3\.0/,
  });
  assert.throws(() => parseBatchInvocation({ Records: [] }), { code: "BATCH_EVENT_INVALID" });
  assert.throws(
    () => parseBatchInvocation({ ...SCHEMA_1, tasks: [{ taskId: "t", s3Key: "k", s3BucketArn: "photos" }] }),
    {
      code: "BATCH_EVENT_INVALID",
    },
  );
});

const base = { bucket: "b", key: "a.jpg", derivativeKey: "a.restored.jpg", bytesRead: 65536 };
const skipped = (reason: string, message: string, quality: number | null) =>
  ({ ...base, action: "skipped", reason, message, quality }) as DeriveOutcome;

test("each result code, with a useful result string", () => {
  const written = {
    ...base,
    action: "written",
    quality: 20,
    replaced: false,
    sourceETag: "e",
    model: "codiff-tiny@1.0.0",
    format: "jpeg",
    contentType: "image/jpeg",
    output: new Uint8Array(10),
    inputBytes: 100,
    restoreMs: 1234.4,
    timings: {},
  } as DeriveOutcome;
  assert.deepEqual(resultOfOutcome("t1", written), {
    taskId: "t1",
    resultCode: "Succeeded",
    resultString: "restored (quality 20) to a.restored.jpg in 1234 ms",
  });
  const highQuality = skipped("high-quality", "quality 95 >= 90", 95);
  assert.equal(resultOfOutcome("t2", highQuality).resultCode, "Succeeded");
  assert.match(resultOfOutcome("t2", highQuality).resultString, /^skipped: high-quality \(quality 95\)/);
  const corrupt = skipped("corrupt", "truncated scan [JPEG_TRUNCATED]", null);
  // A corrupt image is a skip with its reason (the one object-event policy), not a failure.
  assert.deepEqual(resultOfOutcome("t3", corrupt), {
    taskId: "t3",
    resultCode: "Succeeded",
    resultString: "skipped: corrupt: truncated scan [JPEG_TRUNCATED]",
  });
  const gone = skipped("gone", "the source no longer exists", null);
  assert.equal(resultOfOutcome("t4", gone).resultCode, "PermanentFailure");

  const throttled = Object.assign(new Error("Please reduce your request rate."), {
    name: "SlowDown",
    $metadata: { httpStatusCode: 503 },
  });
  assert.deepEqual(resultOfError("t5", throttled), {
    taskId: "t5",
    resultCode: "TemporaryFailure",
    resultString: "SlowDown: Please reduce your request rate.",
  });
  const denied = Object.assign(new Error("Access Denied"), {
    name: "AccessDenied",
    $metadata: { httpStatusCode: 403 },
  });
  assert.equal(resultOfError("t6", denied).resultCode, "PermanentFailure");
  assert.equal(
    resultOfError("t7", new UnjpegError("MODEL_INVALID", "bad manifest")).resultCode,
    "PermanentFailure",
  );
  assert.equal(resultOfError("t8", new Error("aborted"), true).resultCode, "TemporaryFailure");
});

test("the response echoes the schema and invocation id, and treats missing keys as permanent failures", () => {
  const invocation = parseBatchInvocation(SCHEMA_2);
  const response = batchResponse(invocation, [{ taskId: "t", resultCode: "Succeeded", resultString: "ok" }]);
  assert.deepEqual(response, {
    invocationSchemaVersion: "2.0",
    treatMissingKeysAs: "PermanentFailure",
    invocationId: SCHEMA_2.invocationId,
    results: [{ taskId: "t", resultCode: "Succeeded", resultString: "ok" }],
  });
});
