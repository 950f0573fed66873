/**
 * Queue mode end to end with real S3 (s3rver) and the real restore; SQS is the in-memory fake of the
 * client (tests/unit/queue-fake-sqs.ts), since no SQS-compatible server can be installed here.
 * `enqueue` lists the bucket into S3 event messages; the worker derives each object, deletes what
 * succeeded, and leaves failures to the redrive policy. The queue-worker Lambda answers partial failures.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Context, SQSEvent } from "aws-lambda";
import { createQueueHandler } from "../../handlers/queue-worker.js";
import { enqueueObjects, objectCreatedMessage } from "../../lib/queue/enqueue.js";
import { handleMessageBody } from "../../lib/queue/handle.js";
import { runWorker } from "../../lib/queue/worker.js";
import { isDerivativeKey } from "../../lib/storage/keys.js";
import { listObjects } from "../../lib/storage/listing.js";
import { fakeSqs } from "../unit/queue-fake-sqs.js";
import { headMetadata, listKeys, spawnCli, startStackWith } from "./backfill-helpers.js";
import { BUCKET, type TestStack, testDeriver } from "./upload-helpers.js";

const QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/unjpeg-backfill";
let stack: TestStack;
before(async () => {
  stack = await startStackWith(function* (bodies) {
    for (let i = 0; i < 6; i++) yield [`queue/high-${i}.jpg`, bodies.high[i % 4]!] as const;
    for (let i = 0; i < 3; i++) yield [`queue/low ${i}.jpg`, bodies.low[i]!] as const;
    yield ["queue/broken.jpg", bodies.broken[0]!] as const;
    yield ["queue/notes.txt", bodies["not-jpeg"][1]!] as const;
  });
});
after(() => stack?.close());

test("enqueue → worker: derivatives written, successes and skips (the corrupt one) deleted, a failure left for redrive", async () => {
  const deriver = await testDeriver(stack);
  const sqs = fakeSqs({ maxReceiveCount: 3 });
  async function* objects() {
    for await (const object of listObjects(stack.s3, { bucket: BUCKET, prefix: "queue/" })) {
      if (!isDerivativeKey(object.key, stack.config)) yield object;
    }
  }
  const sent = await enqueueObjects(sqs, QUEUE, objects());
  assert.deepEqual(sent, { sent: 11, batches: 2 });
  // A message that is no object event: a (permanent) failure, left to the queue's redrive policy.
  sqs.add("{not json");

  const handled: string[] = [];
  const summaries: string[] = [];
  const stats = await runWorker({
    sqs,
    queueUrl: QUEUE,
    concurrency: 2,
    visibilitySeconds: 30,
    waitSeconds: 0,
    exitWhenEmpty: true,
    handle: async (message, signal) => {
      handled.push(message.messageId);
      const summary = await handleMessageBody(deriver, message.body, signal);
      summaries.push(summary);
      return summary;
    },
  });
  assert.equal(stats.received, 12);
  assert.equal(stats.succeeded, 11);
  assert.equal(stats.failed, 1);
  // A corrupt image is a skip with its reason (the one object-event policy): done with, not redriven.
  assert.ok(
    summaries.some((s) => /queue\/broken\.jpg: skipped: corrupt/.test(s)),
    summaries.join("\n"),
  );
  assert.equal(new Set(handled).size, handled.length, "no message handled twice");
  // The failure stays in the queue (invisible until its timeout), for the redrive policy.
  assert.equal(sqs.messages.length, 1);
  assert.equal(sqs.messages[0]!.body, "{not json");

  const derivatives = (await listKeys(stack.s3, "queue/")).filter((k) => k.includes(".restored."));
  assert.deepEqual(derivatives, [
    "queue/low 0.restored.jpg",
    "queue/low 1.restored.jpg",
    "queue/low 2.restored.jpg",
  ]);
  assert.equal(
    (await headMetadata(stack.s3, "queue/low 1.restored.jpg"))?.["unjpeg-source-key"],
    "queue%2Flow%201.jpg",
  );
});

test("the queue-worker Lambda reports only the failed messages", async () => {
  const handler = createQueueHandler(await testDeriver(stack));
  const record = (messageId: string, body: string) =>
    ({
      messageId,
      body,
      eventSource: "aws:sqs",
      receiptHandle: "r",
      attributes: {},
      messageAttributes: {},
    }) as unknown;
  const event = {
    Records: [
      record("ok", objectCreatedMessage({ bucket: BUCKET, key: "queue/high-0.jpg" })),
      record("corrupt", objectCreatedMessage({ bucket: BUCKET, key: "queue/broken.jpg" })),
      record("garbage", "{not json"),
      record("test-event", JSON.stringify({ Service: "Amazon S3", Event: "s3:TestEvent", Bucket: BUCKET })),
    ],
  } as SQSEvent;
  const context = { getRemainingTimeInMillis: () => 120_000 } as unknown as Context;
  const response = await handler(event, context);
  assert.deepEqual(response, {
    batchItemFailures: [{ itemIdentifier: "garbage" }],
  });
});

test("unjpeg enqueue --dry-run counts the messages a listing would become (derivatives left out)", async () => {
  const result = await spawnCli([
    "enqueue",
    `s3://${BUCKET}/queue/`,
    "--queue-url",
    QUEUE,
    "--endpoint",
    stack.local.endpoint,
    "--exclude",
    "**/*.txt",
    "--dry-run",
  ]).output;
  assert.equal(result.code, 0, result.stderr);
  const keys = await listKeys(stack.s3, "queue/");
  const derivatives = keys.filter((k) => k.includes(".restored."));
  assert.deepEqual(JSON.parse(result.stdout), {
    listed: keys.length,
    filtered: derivatives.length + 1,
    sent: 0,
    wouldSend: keys.length - derivatives.length - 1,
  });
});
