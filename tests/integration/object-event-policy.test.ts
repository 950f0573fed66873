/**
 * The one object-event policy, table-driven: every row of docs/CONTRACTS.md's failure table through every
 * consumer (the upload function, the queue worker function, `unjpeg worker`, Batch Operations, the
 * backfill), against a real s3rver and the real storage core. Faults are real S3 answers injected at the
 * core's client transport (a 503 SlowDown, a 500, a 403, a request that times out) or a restore that fails
 * as the model or a deadline makes it fail; the images are real files (truncated, CMYK, too many pixels).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import type { S3Client } from "@aws-sdk/client-s3";
import type { Context, SQSEvent } from "aws-lambda";
import sharp from "sharp";
import { createBatchHandler } from "../../handlers/batch-operations.js";
import { createQueueHandler } from "../../handlers/queue-worker.js";
import { createUploadHandler } from "../../handlers/s3-upload.js";
import type { BatchResponse } from "../../lib/backfill/batch.js";
import { memoryJournal } from "../../lib/backfill/journal.js";
import { deriveListedObject } from "../../lib/backfill/outcome.js";
import { runBackfill } from "../../lib/backfill/run.js";
import { loadConfig } from "../../lib/config.js";
import { ModelError, RestoreAbortedError } from "../../lib/model/errors.js";
import { objectCreatedMessage } from "../../lib/queue/enqueue.js";
import { handleMessageBody } from "../../lib/queue/handle.js";
import { runWorker } from "../../lib/queue/worker.js";
import { restore as realRestore } from "../../lib/restore/restore.js";
import type { Deriver, RestoreFunction } from "../../lib/storage/derive.js";
import { createDeriver } from "../../lib/storage/deriver.js";
import { LOCAL_CREDENTIALS } from "../../lib/storage/local-s3.js";
import { createS3Client, headObject } from "../../lib/storage/s3.js";
import { fakeSqs } from "../unit/queue-fake-sqs.js";
import { BUCKET, makeJpeg, startTestStack, TEST_MODEL_DIR, type TestStack } from "./upload-helpers.js";

/** What the policy makes of a row: a skip with its reason, or a failure of a kind with its code. */
type Expected =
  | { readonly skip: string }
  | { readonly kind: "temporary" | "permanent"; readonly code: string };

interface Row {
  readonly name: string;
  readonly key: string;
  readonly body: () => Promise<Uint8Array>;
  /** An S3 answer to every request for this key on the core's client. */
  readonly s3Fault?: "throttle" | "5xx" | "timeout" | "denied";
  /** What the restore throws for this image. */
  readonly restoreFault?: () => Error;
  readonly expected: Expected;
}

const MAX_PIXELS = 20_000;
const low =
  (seed: number, width = 96, height = 64) =>
  () =>
    makeJpeg(15, width, height, seed);
const ROWS: readonly Row[] = [
  {
    name: "a corrupt image (cut inside its scan)",
    key: "policy/corrupt.jpg",
    body: async () => {
      const whole = await makeJpeg(15, 96, 64, 1);
      return whole.subarray(0, Math.floor(whole.byteLength * 0.7));
    },
    expected: { skip: "corrupt" },
  },
  {
    name: "an unsupported image (CMYK)",
    key: "policy/cmyk.jpg",
    body: async () =>
      new Uint8Array(
        await sharp({ create: { width: 32, height: 32, channels: 3, background: "#4080c0" } })
          .toColourspace("cmyk")
          .jpeg({ quality: 20 })
          .toBuffer(),
      ),
    expected: { skip: "unsupported" },
  },
  {
    name: "a too-large image (over UNJPEG_MAX_PIXELS)",
    key: "policy/large.jpg",
    body: low(3, 200, 150),
    expected: { skip: "too-large" },
  },
  {
    name: "a model run failure",
    key: "policy/model.jpg",
    body: low(4),
    restoreFault: () => new ModelError("MODEL_RUN_FAILED", "stage unet failed: the worker thread died"),
    expected: { kind: "temporary", code: "MODEL_RUN_FAILED" },
  },
  {
    name: "an S3 throttle (503 SlowDown)",
    key: "policy/throttle.jpg",
    body: low(5),
    s3Fault: "throttle",
    expected: { kind: "temporary", code: "S3_ERROR" },
  },
  {
    name: "an S3 5xx (500 InternalError)",
    key: "policy/5xx.jpg",
    body: low(6),
    s3Fault: "5xx",
    expected: { kind: "temporary", code: "S3_ERROR" },
  },
  {
    name: "an S3 timeout",
    key: "policy/timeout.jpg",
    body: low(7),
    s3Fault: "timeout",
    expected: { kind: "temporary", code: "S3_TIMEOUT" },
  },
  {
    name: "a deadline (the restore aborted)",
    key: "policy/deadline.jpg",
    body: low(8),
    restoreFault: () => new RestoreAbortedError("unet", new Error("deadline")),
    expected: { kind: "temporary", code: "RESTORE_ABORTED" },
  },
  {
    name: "access denied (403)",
    key: "policy/denied.jpg",
    body: low(9),
    s3Fault: "denied",
    expected: { kind: "permanent", code: "S3_ERROR" },
  },
];

const S3_ANSWERS = {
  throttle: { status: 503, code: "SlowDown", message: "Please reduce your request rate." },
  "5xx": { status: 500, code: "InternalError", message: "We encountered an internal error." },
  denied: { status: 403, code: "AccessDenied", message: "Access Denied" },
} as const;

/** Answers every request for a faulty row's key as S3 would, under the SDK's own deserializer. */
function injectFaults(s3: S3Client, rows: readonly Row[]): void {
  const byKey = new Map(rows.filter((r) => r.s3Fault !== undefined).map((r) => [r.key, r.s3Fault!]));
  s3.middlewareStack.add(
    (next, _context) => async (args) => {
      const fault = byKey.get((args.input as { Key?: string }).Key ?? "");
      if (fault === undefined) return next(args);
      if (fault === "timeout") throw Object.assign(new Error("socket timed out"), { name: "TimeoutError" });
      const answer = S3_ANSWERS[fault];
      const xml = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${answer.code}</Code><Message>${answer.message}</Message></Error>`;
      return {
        response: {
          statusCode: answer.status,
          headers: { "content-type": "application/xml" },
          body: Readable.from([Buffer.from(xml)]),
        },
      };
    },
    { step: "deserialize", name: "policy-faults", priority: "low" },
  );
}

const sha = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

let stack: TestStack;
let deriver: Deriver;
const context = { getRemainingTimeInMillis: () => 120_000 } as unknown as Context;

before(async () => {
  stack = await startTestStack();
  const faults = new Map<string, () => Error>();
  for (const row of ROWS) {
    const body = await row.body();
    await stack.put(row.key, body);
    if (row.restoreFault !== undefined) faults.set(sha(body), row.restoreFault);
  }
  const restore: RestoreFunction = async (input, options) => {
    const fault = faults.get(sha(input));
    if (fault !== undefined) throw fault();
    return realRestore(input, options);
  };
  const config = loadConfig({
    UNJPEG_S3_ENDPOINT: stack.local.endpoint,
    UNJPEG_S3_FORCE_PATH_STYLE: "true",
    UNJPEG_MODEL_DIR: TEST_MODEL_DIR,
    UNJPEG_MAX_PIXELS: String(MAX_PIXELS),
  });
  // One attempt per request: the SDK's own retries of an injected fault would only slow the test down.
  const s3 = createS3Client(config, { credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
  injectFaults(s3, ROWS);
  deriver = await createDeriver(config, { s3, restore });
});
after(() => stack?.close());

const sqsRecord = (row: Row) => ({
  messageId: row.name,
  body: objectCreatedMessage({ bucket: BUCKET, key: row.key }),
  eventSource: "aws:sqs",
});

/** The decision line a Lambda consumer wrote for a row. */
type Line = Record<string, unknown>;

describe("every row through every consumer", () => {
  for (const row of ROWS) {
    const { expected } = row;
    const failing = "kind" in expected;

    it(`upload function: ${row.name}`, async () => {
      const lines: Line[] = [];
      const handler = createUploadHandler(deriver, { sink: (line) => lines.push(JSON.parse(line)) });
      const answer = await handler({ Records: [sqsRecord(row)] }, context);
      assertLambda(answer, lines, row);
    });

    it(`queue worker function: ${row.name}`, async () => {
      const lines: Line[] = [];
      const handler = createQueueHandler(deriver, { sink: (line) => lines.push(JSON.parse(line)) });
      const answer = await handler({ Records: [sqsRecord(row)] } as unknown as SQSEvent, context);
      assertLambda(answer, lines, row);
    });

    it(`unjpeg worker: ${row.name}`, async () => {
      const sqs = fakeSqs({ maxReceiveCount: 3 });
      sqs.add(objectCreatedMessage({ bucket: BUCKET, key: row.key }));
      const logs: string[] = [];
      // Each round: whatever the queue holds is visible again (its timeout passed), and the worker drains it.
      for (let round = 0; round < 5; round++) {
        for (const message of sqs.messages) message.visibleAt = 0;
        await runWorker({
          sqs,
          queueUrl: "https://sqs.us-east-1.amazonaws.com/123456789012/policy",
          concurrency: 1,
          waitSeconds: 0,
          exitWhenEmpty: true,
          log: (line) => logs.push(line),
          handle: (message, signal) => handleMessageBody(deriver, message.body, signal),
        });
      }
      assert.equal(sqs.messages.length, 0, "nothing left in the queue");
      if (!failing) {
        assert.equal(sqs.deadLetters.length, 0, "a skip is done with, not dead-lettered");
        assert.ok(
          logs.some((l) => l.includes(`skipped: ${expected.skip}`)),
          logs.join("\n"),
        );
        return;
      }
      // Retried up to the receive limit, then dead-lettered; the log says which kind of failure.
      assert.equal(sqs.deadLetters.length, 1);
      assert.equal(sqs.deadLetters[0]!.receiveCount, 3);
      const failures = logs.filter((l) => l.includes("failed ("));
      assert.equal(failures.length, 3, logs.join("\n"));
      for (const line of failures)
        assert.ok(line.includes(`failed (${expected.kind}, ${expected.code})`), line);
    });

    it(`Batch Operations: ${row.name}`, async () => {
      const handler = createBatchHandler(deriver);
      const response = (await handler(
        {
          invocationSchemaVersion: "2.0",
          invocationId: "inv",
          job: { id: "job" },
          tasks: [{ taskId: "t", s3Key: encodeURIComponent(row.key), s3VersionId: null, s3Bucket: BUCKET }],
        },
        context,
      )) as BatchResponse;
      const [result] = response.results;
      if (!failing) {
        assert.equal(result!.resultCode, "Succeeded");
        assert.match(result!.resultString, new RegExp(`^skipped: ${expected.skip}\\b`));
        return;
      }
      assert.equal(
        result!.resultCode,
        expected.kind === "temporary" ? "TemporaryFailure" : "PermanentFailure",
      );
      assert.match(result!.resultString, new RegExp(`^${expected.code}: `));
    });

    it(`backfill: ${row.name}`, async () => {
      const head = await headObject(stack.s3, BUCKET, row.key);
      const object = { bucket: BUCKET, key: row.key, etag: head!.eTag, size: head!.size };
      let attempts = 0;
      const journal = memoryJournal();
      const report = await runBackfill({
        source: `s3://${BUCKET}/policy/`,
        objects: [object],
        journal,
        concurrency: 1,
        retry: { attempts: 3, sleep: async () => {}, random: () => 0 },
        process: (o, signal) => {
          attempts++;
          return deriveListedObject(deriver, o, signal);
        },
      });
      const entry = [...journal.entries.values()][0]!;
      if (!failing) {
        assert.equal(attempts, 1, "a skip is not retried");
        assert.deepEqual([entry.o, entry.r], ["skipped", expected.skip]);
        assert.equal(report.total.skippedBy[expected.skip], 1);
        return;
      }
      assert.equal(attempts, expected.kind === "temporary" ? 3 : 1, "temporary: retried; permanent: not");
      assert.deepEqual([entry.o, entry.r, entry.f], ["failed", expected.code, expected.kind]);
      assert.equal(report.total.failed, 1);
    });
  }
});

/** A Lambda consumer's answer and decision line for a row. */
function assertLambda(answer: unknown, lines: Line[], row: Row): void {
  const { expected } = row;
  assert.equal(lines.length, 1, JSON.stringify(lines));
  const [line] = lines;
  if ("skip" in expected) {
    assert.deepEqual(answer, { batchItemFailures: [] }, "a skip is not retried");
    assert.deepEqual([line!["Outcome"], line!["Reason"]], ["skipped", expected.skip]);
    return;
  }
  // Failed: the message goes back for the queue's redrive (retried, then dead-lettered at the limit).
  assert.deepEqual(answer, { batchItemFailures: [{ itemIdentifier: row.name }] });
  assert.deepEqual(
    [line!["Outcome"], line!["Reason"], line!["retryable"]],
    ["failed", expected.code, expected.kind === "temporary"],
  );
}
