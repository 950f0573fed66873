/**
 * Pure logic of the storage layer's large and racing transfers: the byte-limited body reader (refuses on
 * the announced length before reading, or as soon as arriving bytes pass the limit) and the conditional
 * write protocol (which precondition a derivative write carries, and what a failed one means).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ObjectTooLargeError, readBodyLimited } from "../../lib/storage/body.js";
import { classifyWriteFailure, WriteRaceLostError, writeCondition } from "../../lib/storage/write.js";

/** A body of `chunks` chunks of `size` bytes (endless when chunks is Infinity) that counts what was pulled. */
function countingBody(size: number, chunks: number) {
  const state = { pulled: 0, destroyed: false };
  const body = {
    async *[Symbol.asyncIterator]() {
      for (let i = 0; i < chunks; i++) {
        if (state.destroyed) return;
        state.pulled += size;
        yield new Uint8Array(size).fill(i & 255);
      }
    },
    destroy() {
      state.destroyed = true;
    },
  };
  return { body, state };
}

describe("readBodyLimited", () => {
  it("reads a body of its announced length, byte for byte", async () => {
    const { body } = countingBody(1000, 5);
    const out = await readBodyLimited(body, { announced: 5000, maxBytes: 5000, what: "x" });
    assert.equal(out.byteLength, 5000);
    assert.equal(out[0], 0);
    assert.equal(out[4999], 4);
  });

  it("refuses an announced length over the limit without reading a byte, and closes the body", async () => {
    const { body, state } = countingBody(1000, 2_000_000);
    const error = await readBodyLimited(body, {
      announced: 2 * 1024 ** 3,
      maxBytes: 1024,
      what: "s3://b/big",
    }).catch((e: unknown) => e);
    assert.ok(error instanceof ObjectTooLargeError);
    assert.equal(error.code, "OBJECT_TOO_LARGE");
    assert.equal(error.status, 413);
    assert.equal(error.bytesRead, 0);
    assert.equal(error.announced, 2 * 1024 ** 3);
    assert.match(error.message, /s3:\/\/b\/big is 2147483648 bytes, over the limit of 1024/);
    assert.equal(state.pulled, 0);
    assert.equal(state.destroyed, true);
  });

  it("stops an endless body without a length as soon as the limit is passed", async () => {
    const { body, state } = countingBody(64 * 1024, Number.POSITIVE_INFINITY);
    const error = await readBodyLimited(body, {
      announced: undefined,
      maxBytes: 1_000_000,
      what: "s3://b/endless",
    }).catch((e: unknown) => e);
    assert.ok(error instanceof ObjectTooLargeError);
    // At most one chunk past the limit was pulled, and the body was closed.
    assert.ok(state.pulled <= 1_000_000 + 64 * 1024, `pulled ${state.pulled}`);
    assert.equal(error.bytesRead, state.pulled);
    assert.equal(state.destroyed, true);
  });

  it("stops a body that runs past the limit although it announced less (a lying length)", async () => {
    const { body, state } = countingBody(4096, 10_000);
    await assert.rejects(
      readBodyLimited(body, { announced: 8192, maxBytes: 16_384, what: "x" }),
      /longer than/,
    );
    assert.ok(state.pulled <= 3 * 4096);
  });

  it("reads a body without a length under the limit, and reports a short body", async () => {
    const { body } = countingBody(10, 3);
    const out = await readBodyLimited(body, { announced: undefined, maxBytes: 30, what: "x" });
    assert.deepEqual(
      [...out],
      [...new Array(10).fill(0), ...new Array(10).fill(1), ...new Array(10).fill(2)],
    );
    const short = countingBody(10, 2);
    await assert.rejects(
      readBodyLimited(short.body, { announced: 30, maxBytes: 30, what: "x" }),
      /ended after 20 of 30/,
    );
  });
});

describe("the derivative write protocol", () => {
  it("a first derivative is written only if none exists; a stale one only if it is still the one seen", () => {
    assert.deepEqual(writeCondition(null), { ifNoneMatch: "*" });
    assert.deepEqual(writeCondition({ eTag: "abc123" }), { ifMatch: '"abc123"' });
    assert.deepEqual(writeCondition({ eTag: '"abc-3"' }), { ifMatch: '"abc-3"' }); // multipart ETag, quoted once
    assert.equal(writeCondition({ eTag: undefined }), undefined);
  });

  const sdkError = (name: string, status: number) => ({ name, $metadata: { httpStatusCode: status } });

  it("412 means another writer won, under either condition", () => {
    for (const condition of [{ ifNoneMatch: "*" as const }, { ifMatch: '"e"' }]) {
      assert.equal(classifyWriteFailure(sdkError("PreconditionFailed", 412), condition), "lost-race");
      assert.equal(classifyWriteFailure({ name: "PreconditionFailed" }, condition), "lost-race");
    }
  });

  it("a vanished stale derivative (404 under If-Match) is a lost race; under If-None-Match it is an error", () => {
    assert.equal(classifyWriteFailure(sdkError("NoSuchKey", 404), { ifMatch: '"e"' }), "lost-race");
    assert.equal(classifyWriteFailure(sdkError("NoSuchKey", 404), { ifNoneMatch: "*" }), "error");
  });

  it("409 ConditionalRequestConflict asks for a retry; other failures stay errors", () => {
    const condition = { ifNoneMatch: "*" as const };
    assert.equal(classifyWriteFailure(sdkError("ConditionalRequestConflict", 409), condition), "conflict");
    assert.equal(classifyWriteFailure(sdkError("OperationAborted", 409), condition), "error");
    assert.equal(classifyWriteFailure(sdkError("AccessDenied", 403), condition), "error");
    assert.equal(classifyWriteFailure(sdkError("InternalError", 500), condition), "error");
    assert.equal(classifyWriteFailure(new Error("socket hang up"), condition), "error");
  });

  it("without a condition nothing is a lost race", () => {
    assert.equal(classifyWriteFailure(sdkError("PreconditionFailed", 412), undefined), "error");
  });

  it("the lost race names the key and the header that failed", () => {
    const error = new WriteRaceLostError("media", "a/cat.restored.jpg", { ifMatch: '"e1"' }, null);
    assert.equal(error.code, "WRITE_RACE_LOST");
    assert.match(error.message, /s3:\/\/media\/a\/cat\.restored\.jpg .*If-Match: "e1"/);
  });
});
