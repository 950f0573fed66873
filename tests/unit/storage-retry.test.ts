import assert from "node:assert/strict";
import { test } from "node:test";
import { UnjpegError } from "../../lib/errors.js";
import { classifyFailure } from "../../lib/storage/failure.js";
import { backoffDelay, withRetry } from "../../lib/storage/retry.js";

const awsError = (name: string, status: number) =>
  Object.assign(new Error(`${name} happened`), { name, $metadata: { httpStatusCode: status } });

test("throttling, 5xx, timeouts and network errors are temporary; bad input is permanent", () => {
  assert.equal(classifyFailure(awsError("SlowDown", 503)).kind, "temporary");
  assert.equal(classifyFailure(awsError("InternalError", 500)).kind, "temporary");
  assert.equal(classifyFailure(awsError("ThrottlingException", 400)).kind, "temporary");
  assert.equal(classifyFailure(awsError("TooManyRequests", 429)).kind, "temporary");
  assert.equal(classifyFailure(Object.assign(new Error("reset"), { code: "ECONNRESET" })).kind, "temporary");
  assert.equal(classifyFailure(awsError("AccessDenied", 403)).kind, "permanent");
  assert.equal(classifyFailure(awsError("NoSuchKey", 404)).kind, "permanent");
  assert.equal(classifyFailure(new UnjpegError("JPEG_MALFORMED", "bad", { status: 422 })).kind, "permanent");
  assert.deepEqual(classifyFailure(awsError("SlowDown", 503)).code, "SlowDown");
});

test("our errors: an explicit retryable flag wins, else a transient cause makes them temporary", () => {
  const flagged = Object.assign(new UnjpegError("S3_ERROR", "denied", { status: 502 }), { retryable: false });
  assert.equal(classifyFailure(flagged).kind, "permanent");
  const retryable = Object.assign(new UnjpegError("S3_ERROR", "slow", { status: 502 }), { retryable: true });
  assert.equal(classifyFailure(retryable).kind, "temporary");
  const wrapped = new UnjpegError("S3_ERROR", "wrapped", { cause: awsError("SlowDown", 503) });
  assert.deepEqual(classifyFailure(wrapped), { kind: "temporary", code: "S3_ERROR", message: "wrapped" });
  assert.equal(
    classifyFailure(new UnjpegError("RESTORE_TIMEOUT", "late", { status: 504 })).kind,
    "temporary",
  );
});

test("backoff is full-jitter under a doubling, capped ceiling", () => {
  assert.equal(
    backoffDelay(0, 100, 10_000, () => 0.999),
    99,
  );
  assert.equal(
    backoffDelay(3, 100, 10_000, () => 0.5),
    400,
  );
  assert.equal(
    backoffDelay(20, 100, 10_000, () => 0.5),
    5000,
  );
  assert.equal(
    backoffDelay(5, 100, 10_000, () => 0),
    0,
  );
});

test("withRetry retries temporary failures, then gives up with the last error", async () => {
  const waits: number[] = [];
  let calls = 0;
  const value = await withRetry(
    async () => {
      calls++;
      if (calls < 3) throw awsError("SlowDown", 503);
      return "ok";
    },
    { attempts: 5, baseMs: 100, random: () => 0.5, sleep: async (ms) => void waits.push(ms) },
  );
  assert.equal(value, "ok");
  assert.equal(calls, 3);
  assert.deepEqual(waits, [50, 100]);

  calls = 0;
  await assert.rejects(
    withRetry(
      async () => {
        calls++;
        throw awsError("InternalError", 500);
      },
      { attempts: 4, sleep: async () => {} },
    ),
    { name: "InternalError" },
  );
  assert.equal(calls, 4);
});

test("withRetry does not retry permanent failures", async () => {
  let calls = 0;
  await assert.rejects(
    withRetry(
      async () => {
        calls++;
        throw awsError("AccessDenied", 403);
      },
      { sleep: async () => {} },
    ),
  );
  assert.equal(calls, 1);
});
