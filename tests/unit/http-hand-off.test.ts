import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createPendingMemory, queueHandOff, within } from "../../lib/http/hand-off.js";
import { objectEventsFromMessageText } from "../../lib/storage/events.js";
import { fakeSqs } from "./queue-fake-sqs.js";

const QUEUE = "https://sqs.eu-west-1.amazonaws.com/123456789012/unjpeg-restore";
const later = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(resolve, ms, value));

describe("within", () => {
  it("gives the task's value when it is in time, undefined when it is not", async () => {
    assert.equal(await within(later(1, "done"), 200), "done");
    assert.equal(await within(later(200, "done"), 5), undefined);
    assert.equal(await within(later(5, "done"), Number.POSITIVE_INFINITY), "done");
  });
});

describe("pending memory", () => {
  it("forgets an entry after its time, and the oldest beyond its size", () => {
    const memory = createPendingMemory(1_000, 2);
    memory.set("a", "queued", 0);
    assert.equal(memory.get("a", 999), "queued");
    assert.equal(memory.get("a", 1_000), undefined);
    memory.set("a", "queued", 0);
    memory.set("b", "not-queued", 0);
    memory.set("c", "queued", 0);
    assert.equal(memory.get("a", 1), undefined, "the oldest went");
    assert.equal(memory.get("b", 1), "not-queued");
    assert.equal(memory.get("c", 1), "queued");
  });
});

describe("queueHandOff", () => {
  it("sends the source as one S3 event notification message the queue worker reads", async () => {
    const sqs = fakeSqs();
    const handOff = queueHandOff(QUEUE, "media", async () => sqs);
    await handOff({
      key: "photos/big cat.jpg",
      eTag: "abc123",
      versionId: undefined,
      size: 12_345_678,
      contentType: "image/jpeg",
      metadata: {},
    });
    assert.equal(sqs.messages.length, 1);
    const events = objectEventsFromMessageText(sqs.messages[0]!.body);
    assert.equal(events.length, 1);
    assert.equal(events[0]!.change, "created");
    assert.equal(events[0]!.bucket, "media");
    assert.equal(events[0]!.key, "photos/big cat.jpg");
  });

  it("rejects when the queue keeps refusing, so the answer can say not queued", async () => {
    const sqs = fakeSqs();
    sqs.failNext("SendMessageBatch", 5, () =>
      Object.assign(new Error("service unavailable"), { name: "ServiceUnavailable", $retryable: {} }),
    );
    const handOff = queueHandOff(QUEUE, "media", async () => sqs);
    await assert.rejects(
      handOff({
        key: "a.jpg",
        eTag: "e",
        versionId: undefined,
        size: 1,
        contentType: undefined,
        metadata: {},
      }),
    );
    assert.equal(sqs.messages.length, 0);
  });
});
