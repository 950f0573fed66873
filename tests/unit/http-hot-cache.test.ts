import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createHotCache } from "../../lib/http/hot-cache.js";

const entry = (size: number) => ({
  derivativeKey: "d",
  metadata: {},
  body: new Uint8Array(size),
  checkedAtMs: 0,
});

describe("hot cache", () => {
  it("keeps at most maxBytes, dropping the least recently used first", () => {
    const cache = createHotCache(100, 60);
    cache.set("a", entry(40));
    cache.set("b", entry(40));
    assert.ok(cache.get("a")); // a is now the most recent
    cache.set("c", entry(40)); // over 100: b goes
    assert.equal(cache.get("b"), undefined);
    assert.ok(cache.get("a") && cache.get("c"));
    assert.equal(cache.bytes(), 80);
  });

  it("refuses entries over the per-entry limit and replaces entries in place", () => {
    const cache = createHotCache(100, 60);
    cache.set("big", entry(61));
    assert.equal(cache.get("big"), undefined);
    cache.set("a", entry(10));
    cache.set("a", entry(30));
    assert.equal(cache.bytes(), 30);
    cache.delete("a");
    assert.equal(cache.bytes(), 0);
  });
});
