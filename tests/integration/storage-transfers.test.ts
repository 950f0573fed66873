/**
 * Large and racing transfers against a real s3rver with the real SDK client: a source over the byte limit
 * is refused early (typed error, original untouched), a derivative above the multipart threshold arrives
 * intact through a multipart upload, and every derivative write carries its precondition on the wire.
 *
 * s3rver ignores If-None-Match / If-Match, so it cannot answer 412 itself: the headers are proven sent here
 * (captured from the real client's requests), the decision logic is unit-tested (storage-write.test.ts),
 * and what a 412 does to a run is checked with S3's own 412 answer injected at the client's transport.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { createS3OriginStore } from "../../lib/http/s3-store.js";
import type { Deriver } from "../../lib/storage/derive.js";
import { deriveObject } from "../../lib/storage/derive.js";
import { createDeriver } from "../../lib/storage/deriver.js";
import { encodeEventKey } from "../../lib/storage/keys.js";
import {
  getObjectRange,
  headObject,
  ObjectTooLargeError,
  putObject,
  StorageError,
} from "../../lib/storage/s3.js";
import { handleUploadEvent } from "../../lib/storage/upload.js";
import { BUCKET, makeJpeg, startTestStack, type TestStack, testDeriver } from "./upload-helpers.js";

const MIB = 1024 * 1024;

interface Sent {
  readonly command: string;
  readonly method: string;
  readonly headers: Record<string, string>;
}

/** Records every request the client sends (after signing: exactly what goes on the wire). */
function captureRequests(s3: S3Client): { sent: Sent[]; stop(): void } {
  const sent: Sent[] = [];
  const name = `capture-${Math.random()}`;
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      const request = args.request as { method: string; headers: Record<string, string> };
      sent.push({
        command: context.commandName ?? "",
        method: request.method,
        headers: { ...request.headers },
      });
      return next(args);
    },
    { step: "finalizeRequest", name, priority: "low" },
  );
  return { sent, stop: () => s3.middlewareStack.remove(name) };
}

const PRECONDITION_FAILED =
  '<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code>' +
  "<Message>At least one of the pre-conditions you specified did not hold</Message>" +
  "<Condition>If-None-Match</Condition></Error>";

/**
 * Makes the derivative PutObject answer what S3 answers the loser of a conditional write (412), under the
 * SDK's deserializer, which turns it into the SDK's error as for a real answer. `winnerFirst`: the PUT
 * still reaches s3rver first, as if the winner had stored the same derivative just before.
 */
function answer412(
  s3: S3Client,
  options: { winnerFirst: boolean },
): { answered: () => number; stop(): void } {
  const name = `answer-412-${Math.random()}`;
  let answered = 0;
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== "PutObjectCommand") return next(args);
      if (options.winnerFirst) await next(args);
      answered += 1;
      return {
        // The shape of the SDK's HttpResponse (checked by shape, not class).
        response: {
          statusCode: 412,
          headers: { "content-type": "application/xml" },
          body: Readable.from([Buffer.from(PRECONDITION_FAILED)]),
        },
      };
    },
    { step: "deserialize", name, priority: "low" },
  );
  return { answered: () => answered, stop: () => s3.middlewareStack.remove(name) };
}

describe("large and racing transfers (real s3rver, real client)", () => {
  let stack: TestStack;
  let deriver: Deriver;
  before(async () => {
    stack = await startTestStack();
    deriver = await testDeriver(stack);
  });
  after(() => stack?.close());

  it("refuses an object over the limit on its length, before reading its body; the original is untouched", async () => {
    const big = randomBytes(24 * MIB);
    await stack.put("big/over.bin", big, "application/octet-stream");
    const started = performance.now();
    const error = await getObjectRange(stack.s3, BUCKET, "big/over.bin", { start: 0, maxBytes: MIB }).catch(
      (e: unknown) => e,
    );
    const ms = performance.now() - started;
    assert.ok(error instanceof ObjectTooLargeError, String(error));
    assert.equal(error.code, "OBJECT_TOO_LARGE");
    assert.equal(error.bytesRead, 0);
    assert.equal(error.announced, 24 * MIB);
    assert.match(error.message, /s3:\/\/media\/big\/over\.bin is 25165824 bytes, over the limit of 1048576/);
    assert.ok(ms < 5000, `took ${ms} ms`);
    assert.deepEqual(await stack.get("big/over.bin"), new Uint8Array(big));
  });

  it("a source over UNJPEG_MAX_BYTES gets no derivative and costs no body read (HEAD decides)", async () => {
    const small = await createDeriver(
      { ...stack.config, maxBytes: MIB },
      { s3: stack.s3, model: deriver.model },
    );
    const big = randomBytes(3 * MIB);
    await stack.put("big/huge.jpg", big);
    const capture = captureRequests(stack.s3);
    let outcome: Awaited<ReturnType<typeof deriveObject>>;
    try {
      outcome = await deriveObject(small, { bucket: BUCKET, key: "big/huge.jpg" });
    } finally {
      capture.stop();
    }
    assert.equal(outcome.action === "skipped" && outcome.reason, "too-large");
    assert.equal(outcome.bytesRead, 0);
    assert.ok(
      !capture.sent.some((s) => s.command === "GetObjectCommand" || s.command === "PutObjectCommand"),
    );
    assert.ok(!(await stack.keys("big/")).includes("big/huge.restored.jpg"));
    assert.deepEqual(await stack.get("big/huge.jpg"), new Uint8Array(big));
  });

  it("stops reading as soon as the bytes pass the limit when no length is announced", async () => {
    const big = randomBytes(24 * MIB);
    await stack.put("big/unannounced.bin", big, "application/octet-stream");
    // A server that streams without a Content-Length (or a proxy that drops it): removed from the answer.
    const name = "drop-content-length";
    stack.s3.middlewareStack.add(
      (next) => async (args) => {
        const result = await next(args);
        const headers = (result.response as { headers: Record<string, string> }).headers;
        delete headers["content-length"];
        return result;
      },
      { step: "deserialize", name, priority: "low" },
    );
    try {
      const error = await getObjectRange(stack.s3, BUCKET, "big/unannounced.bin", {
        start: 0,
        maxBytes: 2 * MIB,
      }).catch((e: unknown) => e);
      assert.ok(error instanceof ObjectTooLargeError, String(error));
      assert.equal(error.announced, undefined);
      // Refused within one network chunk of the limit, not after 24 MiB.
      assert.ok(error.bytesRead > 2 * MIB && error.bytesRead < 3 * MIB, `read ${error.bytesRead}`);
    } finally {
      stack.s3.middlewareStack.remove(name);
    }
    assert.deepEqual(await stack.get("big/unannounced.bin"), new Uint8Array(big));
  });

  it("uploads a body above the multipart threshold in parts, conditionally, and it arrives intact", async () => {
    const body = new Uint8Array(randomBytes(12 * MIB + 12345));
    const capture = captureRequests(stack.s3);
    try {
      await putObject(stack.s3, {
        bucket: BUCKET,
        key: "big/cat.restored.png",
        body,
        contentType: "image/png",
        cacheControl: "public, max-age=86400",
        metadata: { "unjpeg-derivative": "1", "unjpeg-model": "m@1" },
        condition: { ifNoneMatch: "*" },
        multipart: { thresholdBytes: 5 * MIB, partBytes: 5 * MIB, queueSize: 2 },
      });
    } finally {
      capture.stop();
    }
    const commands = capture.sent.map((s) => s.command);
    assert.deepEqual(
      commands.filter((c) => c !== "UploadPartCommand"),
      ["CreateMultipartUploadCommand", "CompleteMultipartUploadCommand"],
    );
    assert.equal(commands.filter((c) => c === "UploadPartCommand").length, 3);
    const complete = capture.sent.find((s) => s.command === "CompleteMultipartUploadCommand")!;
    assert.equal(complete.headers["if-none-match"], "*");
    // Only the request that makes the object visible carries it (S3 has no condition on the others).
    for (const other of capture.sent.filter((s) => s !== complete)) {
      assert.equal(other.headers["if-none-match"], undefined, other.command);
    }
    assert.deepEqual(await stack.get("big/cat.restored.png"), body);
    const head = await stack.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "big/cat.restored.png" }));
    assert.equal(head.ContentType, "image/png");
    assert.equal(head.CacheControl, "public, max-age=86400");
    assert.equal(head.Metadata?.["unjpeg-derivative"], "1");
  });

  it("a multipart upload that fails midway leaves no object and is aborted", async () => {
    const name = "deny-part-2";
    stack.s3.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { PartNumber?: number };
        if (context.commandName !== "UploadPartCommand" || input.PartNumber !== 2) return next(args);
        const xml =
          '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>denied</Message></Error>';
        return {
          response: {
            statusCode: 403,
            headers: { "content-type": "application/xml" },
            body: Readable.from([Buffer.from(xml)]),
          },
        };
      },
      { step: "deserialize", name, priority: "low" },
    );
    const capture = captureRequests(stack.s3);
    try {
      await assert.rejects(
        putObject(stack.s3, {
          bucket: BUCKET,
          key: "big/failed.restored.png",
          body: new Uint8Array(11 * MIB),
          contentType: "image/png",
          cacheControl: "no-cache",
          metadata: {},
          condition: { ifNoneMatch: "*" },
          multipart: { thresholdBytes: 5 * MIB, partBytes: 5 * MIB, queueSize: 1 },
        }),
        // On S3 the part's AccessDenied; s3rver does not implement AbortMultipartUpload, and lib-storage then
        // reports the abort's refusal (405) instead. Either way: a typed, non-retryable StorageError.
        (error: unknown) =>
          error instanceof StorageError &&
          !error.retryable &&
          /AccessDenied|MethodNotAllowed/.test(error.message),
      );
    } finally {
      capture.stop();
      stack.s3.middlewareStack.remove(name);
    }
    const commands = capture.sent.map((s) => s.command);
    assert.ok(!commands.includes("CompleteMultipartUploadCommand"));
    assert.ok(commands.includes("AbortMultipartUploadCommand"), commands.join());
    assert.equal(await headObject(stack.s3, BUCKET, "big/failed.restored.png"), null);
  });

  it("a body at or under the threshold is one PutObject", async () => {
    const capture = captureRequests(stack.s3);
    try {
      await putObject(stack.s3, {
        bucket: BUCKET,
        key: "big/small.bin",
        body: new Uint8Array(5 * MIB),
        contentType: "application/octet-stream",
        cacheControl: "no-cache",
        metadata: {},
        multipart: { thresholdBytes: 5 * MIB, partBytes: 5 * MIB, queueSize: 2 },
      });
    } finally {
      capture.stop();
    }
    assert.deepEqual(
      capture.sent.map((s) => s.command),
      ["PutObjectCommand"],
    );
  });

  it("sends If-None-Match: * for a first derivative and If-Match on the stale one's ETag when replacing it", async () => {
    const key = "race/cat.jpg";
    const target = "race/cat.restored.jpg";
    await stack.put(key, await makeJpeg(12, 96, 64, 1));
    const capture = captureRequests(stack.s3);
    try {
      const first = await deriveObject(deriver, { bucket: BUCKET, key });
      assert.equal(first.action, "written");
      const firstPut = capture.sent.filter((s) => s.command === "PutObjectCommand");
      assert.equal(firstPut.length, 1);
      assert.equal(firstPut[0]!.headers["if-none-match"], "*");
      assert.equal(firstPut[0]!.headers["if-match"], undefined);

      const staleETag = (await stack.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: target }))).ETag;
      assert.ok(staleETag);
      capture.sent.length = 0;
      await stack.put(key, await makeJpeg(12, 96, 64, 2)); // a newer upload: the derivative is stale
      capture.sent.length = 0;
      const second = await deriveObject(deriver, { bucket: BUCKET, key });
      assert.equal(second.action === "written" && second.replaced, true);
      const secondPut = capture.sent.filter((s) => s.command === "PutObjectCommand");
      assert.equal(secondPut.length, 1);
      assert.equal(secondPut[0]!.headers["if-match"], staleETag);
      assert.equal(secondPut[0]!.headers["if-none-match"], undefined);
    } finally {
      capture.stop();
    }
  });

  it("S3's 412 on the derivative write is a logged skip (raced) of the upload handler that writes nothing", async () => {
    const key = "race/dog.jpg";
    const source = await makeJpeg(12, 96, 64, 3);
    await stack.put(key, source);
    const restore412 = answer412(stack.s3, { winnerFirst: false });
    const lines: Record<string, unknown>[] = [];
    try {
      const event = {
        Records: [
          {
            eventSource: "aws:s3",
            eventName: "ObjectCreated:Put",
            s3: { bucket: { name: BUCKET }, object: { key: encodeEventKey(key), size: source.length } },
          },
        ],
      };
      const result = await handleUploadEvent(deriver, event, {
        sink: (line) => lines.push(JSON.parse(line) as Record<string, unknown>),
      });
      assert.deepEqual(result.failed, []);
    } finally {
      restore412.stop();
    }
    assert.equal(restore412.answered(), 1);
    // One decision line: a skip, not a failure (nothing retried), saying why.
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!["Outcome"], "skipped");
    assert.equal(lines[0]!["Reason"], "raced");
    assert.match(String(lines[0]!["message"]), /If-None-Match: \* failed/);
    assert.ok(!(await stack.keys("race/")).includes("race/dog.restored.jpg"));
    assert.deepEqual(await stack.get(key), source);
  });

  it("the CDN origin that loses the race serves the winner's derivative", async () => {
    const key = "race/owl.jpg";
    await stack.put(key, await makeJpeg(12, 96, 64, 4));
    const store = createS3OriginStore(deriver, BUCKET);
    const restore412 = answer412(stack.s3, { winnerFirst: true });
    let outcome: Awaited<ReturnType<typeof store.derive>>;
    try {
      const source = (await store.headSource(key))!;
      outcome = await store.derive({ key, format: "jpeg", signal: new AbortController().signal, source });
    } finally {
      restore412.stop();
    }
    assert.equal(restore412.answered(), 1); // its write lost the race...
    assert.equal(outcome.action, "restored"); // ...and it serves what the winner stored
    const stored = await stack.get("race/owl.restored.jpg");
    assert.deepEqual(outcome.action === "restored" && outcome.body, stored);
  });
});
