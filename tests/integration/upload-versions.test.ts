/**
 * Two uploads of one key in quick succession, in each consumer that handles several events at once: the
 * restore of the first version is still running when the second version's event arrives. The newest
 * version must end with a current derivative (reliability case 2: the second event was dropped as a
 * `duplicate` of the first, whose restore then ended `superseded`). The first restore is held until the
 * second event is in the consumer, so the overlap does not depend on the machine's speed.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import type { Context, SQSEvent } from "aws-lambda";
import { createQueueHandler } from "../../handlers/queue-worker.js";
import { createUploadHandler } from "../../handlers/s3-upload.js";
import { objectCreatedMessage } from "../../lib/queue/enqueue.js";
import { handleMessageBody } from "../../lib/queue/handle.js";
import { runWorker } from "../../lib/queue/worker.js";
import { restore as realRestore } from "../../lib/restore/restore.js";
import { type Deriver, deriveObject, type RestoreFunction } from "../../lib/storage/derive.js";
import { normalizeETag } from "../../lib/storage/metadata.js";
import { fakeSqs } from "../unit/queue-fake-sqs.js";
import { BUCKET, makeJpeg, startTestStack, type TestStack, testDeriver } from "./upload-helpers.js";

const QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/unjpeg-versions";

/** The real restore, except that the first call waits until `open()`. */
function heldFirstRestore(): { restore: RestoreFunction; open: () => void; calls: () => number } {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  let calls = 0;
  return {
    restore: async (input, options) => {
      if (++calls === 1) await gate;
      return realRestore(input, options);
    },
    open,
    calls: () => calls,
  };
}

/** Lets the consumer take the event it was just given as far as it goes without I/O, then opens. */
const openSoon = (open: () => void) => setTimeout(open, 200);

async function assertCurrentFor(stack: TestStack, key: string, derivative: string): Promise<void> {
  const [source, restored] = await Promise.all([
    stack.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key })),
    stack.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: derivative })).catch(() => null),
  ]);
  assert.ok(restored !== null, `${derivative} exists`);
  assert.equal(restored.Metadata?.["unjpeg-source-etag"], normalizeETag(source.ETag), "made from the newest");
}

let stack: TestStack;
before(async () => {
  stack = await startTestStack();
});
after(() => stack?.close());

test("upload handler: two quick uploads of one key leave the newest version with a current derivative (reliability case 2)", async () => {
  const held = heldFirstRestore();
  let deriver!: Deriver;
  const lines: Record<string, unknown>[] = [];
  const handler = createUploadHandler(() => Promise.resolve(deriver), {
    sink: (line) => lines.push(JSON.parse(line)),
  });
  let events = 0;
  // Its own s3rver: the local stack's event delivery, two events at once as `npm start` runs it.
  const local = await startTestStack({
    concurrency: 2,
    handler: (event) => {
      if (++events === 2) openSoon(held.open);
      return handler(event, {} as never);
    },
  });
  try {
    deriver = await testDeriver(local, { restore: held.restore });
    const key = "versions/upload.jpg";
    await local.put(key, await makeJpeg(10, 96, 64, 1));
    while (held.calls() === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    await local.put(key, await makeJpeg(10, 96, 64, 2));
    await local.local.idle();
    assert.deepEqual(
      lines
        .filter((l) => l["key"] === key)
        .map((l) => l["Reason"])
        .sort(),
      ["none", "superseded"],
      "the first restore is superseded, the second version's is written",
    );
    await assertCurrentFor(local, key, "versions/upload.restored.jpg");
  } finally {
    await local.close();
  }
});

test("unjpeg worker: two queued versions of one key, handled at once, leave the newest current (reliability case 2)", async () => {
  const held = heldFirstRestore();
  const deriver = await testDeriver(stack, { restore: held.restore });
  const sqs = fakeSqs();
  const key = "versions/worker.jpg";
  const first = await stack.put(key, await makeJpeg(10, 96, 64, 3));
  sqs.add(message(key, first));
  const summaries: string[] = [];
  const worker = runWorker({
    sqs,
    queueUrl: QUEUE,
    concurrency: 2,
    waitSeconds: 0,
    exitWhenEmpty: true,
    handle: async (m, signal) => {
      if (m.messageId === "m1") openSoon(held.open);
      const summary = await handleMessageBody(deriver, m.body, signal);
      summaries.push(summary);
      return summary;
    },
  });
  while (held.calls() === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  sqs.add(message(key, await stack.put(key, await makeJpeg(10, 96, 64, 4))));
  const stats = await worker;
  assert.deepEqual([stats.received, stats.succeeded], [2, 2]);
  assert.ok(!summaries.some((s) => s.includes("duplicate")), summaries.join("\n"));
  await assertCurrentFor(stack, key, "versions/worker.restored.jpg");
});

test("queue-worker Lambda: concurrent invocations with two versions of one key leave the newest current (reliability case 2)", async () => {
  const held = heldFirstRestore();
  const handler = createQueueHandler(await testDeriver(stack, { restore: held.restore }));
  const context = { getRemainingTimeInMillis: () => 120_000 } as unknown as Context;
  const invoke = (id: string, body: string) =>
    handler({ Records: [{ messageId: id, body, eventSource: "aws:sqs" }] } as SQSEvent, context);
  const key = "versions/lambda.jpg";
  const firstRun = invoke("a", message(key, await stack.put(key, await makeJpeg(10, 96, 64, 5))));
  while (held.calls() === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  const secondBody = message(key, await stack.put(key, await makeJpeg(10, 96, 64, 6)));
  openSoon(held.open);
  const answers = await Promise.all([firstRun, invoke("b", secondBody)]);
  assert.deepEqual(answers, [{ batchItemFailures: [] }, { batchItemFailures: [] }]);
  await assertCurrentFor(stack, key, "versions/lambda.restored.jpg");
});

/** The S3 event message for the version a PutObject just wrote (with its ETag, as S3 sends it). */
function message(key: string, put: unknown): string {
  const eTag = normalizeETag((put as { ETag?: string }).ETag);
  return objectCreatedMessage({ bucket: BUCKET, key, ...(eTag === undefined ? {} : { etag: eTag }) });
}

test("a call that names no version (the CDN origin's) runs again when the run it shared was superseded (reliability case 2)", async () => {
  const held = heldFirstRestore();
  const deriver = await testDeriver(stack, { restore: held.restore });
  const key = "versions/origin.jpg";
  await stack.put(key, await makeJpeg(10, 96, 64, 7));
  const first = deriveObject(deriver, { bucket: BUCKET, key });
  while (held.calls() === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  await stack.put(key, await makeJpeg(10, 96, 64, 8));
  const second = deriveObject(deriver, { bucket: BUCKET, key });
  held.open();
  const outcomes = await Promise.all([first, second]);
  assert.deepEqual(
    outcomes.map((o) => (o.action === "skipped" ? o.reason : o.action)),
    ["superseded", "written"],
  );
  await assertCurrentFor(stack, key, "versions/origin.restored.jpg");
});
