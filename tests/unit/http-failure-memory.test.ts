/** The origin's memory of failed sources (lib/http/failure-memory.ts): what is kept, for which formats, how long. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HttpError } from "../../lib/http/errors.js";
import { createFailureMemory } from "../../lib/http/failure-memory.js";

describe("failure memory", () => {
  it("keeps the source's content failures per ETag, for every format or just the one that failed", () => {
    const memory = createFailureMemory(1000, 2);
    const undecodable = new HttpError("NOT_DECODABLE", 415, "junk");
    const tooWide = new HttpError("IMAGE_TOO_LARGE_FOR_FORMAT", 422, "wide");
    memory.remember("a.jpg", "e1", "webp", undecodable, 0);
    memory.remember("b.jpg", "e2", "avif", tooWide, 0);
    assert.equal(memory.get("a.jpg", "e1", "png", 10), undecodable);
    assert.equal(memory.get("a.jpg", "e-new", "webp", 10), undefined, "a new version is judged afresh");
    assert.equal(memory.get("b.jpg", "e2", "avif", 10), tooWide);
    assert.equal(memory.get("b.jpg", "e2", "webp", 10), undefined, "another format may fit");
    assert.equal(memory.get("a.jpg", "e1", "webp", 1000), undefined, "forgotten after the TTL");
  });

  it("ignores transient and non-content failures, unknown ETags, and keeps at most maxEntries", () => {
    const memory = createFailureMemory(1000, 2);
    for (const [status, code] of [
      [503, "OVERLOADED"],
      [500, "INTERNAL"],
      [403, "KEY_FORBIDDEN"],
      [404, "NOT_FOUND"],
      [409, "DERIVATIVE_KEY_TAKEN"],
    ] as const) {
      memory.remember("a.jpg", "e1", "jpeg", new HttpError(code, status, code), 0);
      assert.equal(memory.get("a.jpg", "e1", "jpeg", 1), undefined, code);
    }
    memory.remember("a.jpg", "e1", "jpeg", new Error("not ours"), 0);
    memory.remember("a.jpg", "", "jpeg", new HttpError("NOT_DECODABLE", 415, "x"), 0);
    assert.equal(memory.get("a.jpg", "", "jpeg", 1), undefined);
    for (const key of ["1.jpg", "2.jpg", "3.jpg"])
      memory.remember(key, "e", "jpeg", new HttpError("NOT_JPEG", 415, key), 0);
    assert.equal(memory.get("1.jpg", "e", "jpeg", 1), undefined, "the oldest went first");
    assert.ok(memory.get("3.jpg", "e", "jpeg", 1));
  });
});
