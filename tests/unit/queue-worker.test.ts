import assert from "node:assert/strict";
import { test } from "node:test";
import { enqueueObjects, objectCreatedMessage } from "../../lib/queue/enqueue.js";
import { runWorker, type WorkerOptions } from "../../lib/queue/worker.js";
import { objectEventsFromMessageText } from "../../lib/storage/events.js";
import { type FakeSqs, fakeSqs } from "./queue-fake-sqs.js";

const QUEUE = "https://sqs.eu-west-1.amazonaws.com/123456789012/unjpeg";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type DrainOptions = Omit<WorkerOptions, "sqs" | "queueUrl" | "waitSeconds" | "exitWhenEmpty">;
/** A worker on the test queue that never long-polls and exits once a receive comes back empty. */
const drain = (sqs: FakeSqs, options: DrainOptions) =>
  runWorker({ sqs, queueUrl: QUEUE, waitSeconds: 0, exitWhenEmpty: true, ...options });

test("success deletes, failure is left for redrive and ends in the dead-letter queue", async () => {
  const sqs = fakeSqs({ maxReceiveCount: 2 });
  sqs.add("ok-1");
  sqs.add("bad");
  sqs.add("ok-2");
  const seen: string[] = [];
  const stats = await drain(sqs, {
    concurrency: 2,
    visibilitySeconds: 1,
    handle: async (message) => {
      seen.push(`${message.body}#${message.receiveCount}`);
      if (message.body === "bad") throw new Error("corrupt image");
      return "done";
    },
  });
  assert.equal(stats.succeeded, 2);
  assert.ok(stats.failed >= 1);
  assert.deepEqual(
    sqs.messages.map((m) => m.body),
    ["bad"],
    "the failure stays in the queue, not deleted",
  );
  // Redrive: after its visibility ran out it is received again (count 2), then moved to the DLQ.
  const again = await runWorker({
    sqs,
    queueUrl: QUEUE,
    concurrency: 1,
    visibilitySeconds: 1,
    waitSeconds: 2,
    maxMessages: 1,
    handle: async (message) => {
      seen.push(`${message.body}#${message.receiveCount}`);
      throw new Error("corrupt image");
    },
  });
  assert.equal(again.failed, 1);
  // Once visible again, its third receive would pass maxReceiveCount: the queue moves it to the DLQ.
  await runWorker({
    sqs,
    queueUrl: QUEUE,
    concurrency: 1,
    waitSeconds: 2,
    exitWhenEmpty: true,
    handle: async () => "",
  });
  assert.deepEqual(
    sqs.deadLetters.map((m) => m.body),
    ["bad"],
  );
  assert.ok(seen.includes("bad#1") && seen.includes("bad#2"));
  assert.equal(seen.filter((s) => s.startsWith("ok-")).length, 2, "successes are not redelivered");
});

test("visibility is extended while a long restore runs, so no other worker gets the message", async () => {
  const sqs = fakeSqs();
  sqs.add("slow");
  sqs.add("fast");
  let slowRuns = 0;
  const stats = await drain(sqs, {
    concurrency: 2,
    visibilitySeconds: 1,
    handle: async (message) => {
      if (message.body === "slow") {
        slowRuns++;
        await sleep(2500); // 2.5× the visibility timeout
      }
      return undefined;
    },
  });
  assert.equal(slowRuns, 1, "the slow message was never handed out twice");
  assert.ok(stats.extensions >= 2, `extensions: ${stats.extensions}`);
  assert.equal(sqs.messages.length, 0);
  assert.ok(sqs.calls.includes("ChangeMessageVisibility"));
});

test("at most `concurrency` messages are in flight, and receives ask for no more than free slots", async () => {
  const sqs = fakeSqs();
  for (let i = 0; i < 12; i++) sqs.add(`m${i}`);
  let running = 0;
  let peak = 0;
  await drain(sqs, {
    concurrency: 3,
    handle: async () => {
      running++;
      peak = Math.max(peak, running);
      await sleep(15);
      running--;
      return undefined;
    },
  });
  assert.equal(peak, 3);
  assert.equal(sqs.messages.length, 0);
});

test("a failing receive (throttled) is retried with backoff; a stop signal ends the loop", async () => {
  const sqs = fakeSqs();
  sqs.add("m");
  sqs.failNext("ReceiveMessage", 1, () =>
    Object.assign(new Error("Rate exceeded"), {
      name: "ThrottlingException",
      $metadata: { httpStatusCode: 400 },
    }),
  );
  const lines: string[] = [];
  const stats = await drain(sqs, {
    concurrency: 1,
    log: (line) => lines.push(line),
    handle: async () => "ok",
  });
  assert.equal(stats.succeeded, 1);
  assert.ok(lines.some((l) => l.startsWith("receive failed")));
  const stop = new AbortController();
  setTimeout(() => stop.abort(), 50);
  const idle = await runWorker({
    sqs,
    queueUrl: QUEUE,
    concurrency: 1,
    waitSeconds: 20,
    signal: stop.signal,
    handle: async () => "",
  });
  assert.equal(idle.received, 0);
});

test("a hard stop hands in-flight messages back to the queue at once", async () => {
  const sqs = fakeSqs();
  sqs.add("long");
  const hard = new AbortController();
  const stop = new AbortController();
  const run = runWorker({
    sqs,
    queueUrl: QUEUE,
    concurrency: 1,
    waitSeconds: 0,
    visibilitySeconds: 60,
    signal: stop.signal,
    hardStop: hard.signal,
    handle: async (_message, signal) => {
      stop.abort();
      hard.abort();
      signal.throwIfAborted();
      return "";
    },
  });
  const stats = await run;
  assert.equal(stats.abandoned, 1);
  assert.equal(sqs.messages.length, 1);
  assert.ok(sqs.messages[0]!.visibleAt <= Date.now(), "visible again now, not in 60 s");
});

test("enqueue writes S3 event notifications the event normaliser reads back", async () => {
  const sqs = fakeSqs();
  const objects = Array.from({ length: 23 }, (_, i) => ({
    bucket: "photos",
    key: `a b/cat+${i}.jpg`,
    size: 100 + i,
    etag: `etag${i}`,
  }));
  const stats = await enqueueObjects(sqs, QUEUE, objects);
  assert.deepEqual(stats, { sent: 23, batches: 3 });
  assert.equal(sqs.calls.filter((c) => c === "SendMessageBatch").length, 3);
  const events = sqs.messages.flatMap((m) => objectEventsFromMessageText(m.body));
  assert.equal(events.length, 23);
  assert.deepEqual(
    {
      change: events[5]!.change,
      bucket: events[5]!.bucket,
      key: events[5]!.key,
      eTag: events[5]!.eTag,
      size: events[5]!.size,
    },
    { change: "created", bucket: "photos", key: "a b/cat+5.jpg", eTag: "etag5", size: 105 },
  );
  assert.match(objectCreatedMessage(objects[0]!), /"key":"a\+b\/cat%2B0\.jpg"/);
});
