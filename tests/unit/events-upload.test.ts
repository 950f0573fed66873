/**
 * The upload invocation logic without S3: failures per unit, retryability, the deadline, and what the
 * Lambda handler answers (partial batch failures for SQS, an error for direct invocations).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { S3Client } from "@aws-sdk/client-s3";
import { createUploadHandler, UploadBatchError } from "../../handlers/s3-upload.js";
import { loadConfig } from "../../lib/config.js";
import type { Deriver } from "../../lib/storage/derive.js";
import type { Decision } from "../../lib/storage/report.js";
import { handleUploadEvent } from "../../lib/storage/upload.js";

const record = (key: string, eventName = "ObjectCreated:Put") => ({
  eventSource: "aws:s3",
  eventName,
  s3: { bucket: { name: "media" }, object: { key, size: 10, eTag: "e" } },
});
const sqs = (messageId: string, body: unknown) => ({
  messageId,
  eventSource: "aws:sqs",
  body: typeof body === "string" ? body : JSON.stringify(body),
});

/** An S3 client whose every call fails like a throttled S3, counting the calls. */
function throttledS3() {
  let calls = 0;
  const s3 = {
    send: async () => {
      calls += 1;
      throw Object.assign(new Error("Please reduce your request rate."), {
        name: "SlowDown",
        $metadata: { httpStatusCode: 503 },
      });
    },
  } as unknown as S3Client;
  return { s3, calls: () => calls };
}

const deriverWith = (s3: S3Client): Deriver => ({
  s3,
  config: loadConfig({}),
  model: "test@1",
  restore: async () => assert.fail("restore must not run"),
  decide: () => assert.fail("decide must not run"),
});

test("S3 failures fail only their unit, marked retryable; derivative keys and other events need no S3", async () => {
  const { s3, calls } = throttledS3();
  const result = await handleUploadEvent(
    deriverWith(s3),
    {
      Records: [
        sqs("a", { Records: [record("photos/a.jpg")] }),
        sqs("b", { Records: [record("photos/a.restored.jpg")] }),
        sqs("c", { Records: [record("photos/c.jpg", "ObjectRestore:Completed")] }),
        sqs("d", "not json"),
      ],
    },
    { sink: () => undefined },
  );
  assert.deepEqual(result.failed, ["a", "d"]);
  assert.deepEqual(
    result.decisions.map((d) => [d["unit"], d.action, d.reason, d.retryable]),
    [
      ["a", "failed", "S3_ERROR", true],
      ["b", "skipped", "derivative", undefined],
      ["c", "ignored", "event-type", undefined],
      ["d", "failed", "EVENT_INVALID", false],
    ],
  );
  assert.ok(calls() > 0);
});

test("after the deadline no new work starts; what is left is reported failed for a retry", async () => {
  const { s3, calls } = throttledS3();
  const controller = new AbortController();
  controller.abort();
  const result = await handleUploadEvent(
    deriverWith(s3),
    { Records: [sqs("a", { Records: [record("x.jpg")] }), sqs("b", { Records: [record("y.jpg")] })] },
    { sink: () => undefined, signal: controller.signal },
  );
  assert.deepEqual(result.failed, ["a", "b"]);
  assert.ok(result.decisions.every((d) => d.reason === "DEADLINE" && d.retryable === true));
  assert.equal(calls(), 0);
});

test("the Lambda handler: batchItemFailures for SQS, an UploadBatchError for a direct invocation", async () => {
  const { s3 } = throttledS3();
  const lines: Decision[] = [];
  const handler = createUploadHandler(deriverWith(s3), { sink: (_line, d) => lines.push(d) });
  const context = { getRemainingTimeInMillis: () => 60_000 } as never;
  assert.deepEqual(
    await handler(
      {
        Records: [
          sqs("m1", { Records: [record("a.jpg")] }),
          sqs("m2", { Records: [record("b.restored.jpg")] }),
        ],
      },
      context,
    ),
    { batchItemFailures: [{ itemIdentifier: "m1" }] },
  );
  await assert.rejects(handler({ Records: [record("a.jpg"), record("b.jpg")] }, context), UploadBatchError);
  assert.equal(await handler({ Records: [record("b.restored.jpg")] }, context), undefined);
  assert.equal(lines.length, 5);
});

test("a decision line is JSON with EMF metadata naming only metrics it carries", async () => {
  const lines: string[] = [];
  const { s3 } = throttledS3();
  await handleUploadEvent(
    deriverWith(s3),
    { Records: [record("a.restored.jpg")] },
    {
      sink: (line) => lines.push(line),
      service: "svc",
    },
  );
  const [line] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(line?.["Service"], "svc");
  assert.equal(line?.["Outcome"], "skipped");
  assert.equal(line?.["Reason"], "derivative");
  assert.equal(line?.["Objects"], 1);
  assert.equal(line?.["BytesRead"], 0, "skipped by key, before any read");
  const aws = line?.["_aws"] as {
    Timestamp: number;
    CloudWatchMetrics: { Dimensions: string[][]; Metrics: { Name: string }[] }[];
  };
  assert.ok(Number.isInteger(aws.Timestamp));
  assert.deepEqual(aws.CloudWatchMetrics[0]?.Dimensions, [
    ["Service", "Outcome"],
    ["Service", "Outcome", "Reason"],
  ]);
  assert.deepEqual(
    aws.CloudWatchMetrics[0]?.Metrics.map((m) => m.Name),
    ["Objects", "BytesRead"],
  );
});
