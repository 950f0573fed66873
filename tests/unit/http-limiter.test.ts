import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HttpError } from "../../lib/http/errors.js";
import { createLimiter, freshShared, singleFlight } from "../../lib/http/limiter.js";

const deferred = (): { promise: Promise<void>; resolve: () => void } => {
  let resolve = (): void => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
};

describe("limiter", () => {
  it("runs at most `concurrency` tasks, queues up to maxQueued, refuses the rest with 503", async () => {
    const limiter = createLimiter({ concurrency: 2, maxQueued: 1, retryAfterSeconds: 7 });
    const gate = deferred();
    let running = 0;
    let peak = 0;
    const task = async (): Promise<number> => {
      running += 1;
      peak = Math.max(peak, running);
      await gate.promise;
      running -= 1;
      return 1;
    };
    const accepted = [limiter.run(task), limiter.run(task), limiter.run(task)];
    await assert.rejects(limiter.run(task), (error: unknown) => {
      assert.ok(error instanceof HttpError);
      assert.equal(error.status, 503);
      assert.equal(error.code, "OVERLOADED");
      assert.equal(error.retryAfterSeconds, 7);
      return true;
    });
    assert.equal(limiter.active(), 2);
    assert.equal(limiter.queued(), 1);
    gate.resolve();
    assert.deepEqual(await Promise.all(accepted), [1, 1, 1]);
    assert.equal(peak, 2);
    assert.equal(limiter.active(), 0);
  });

  it("frees the slot when a task fails", async () => {
    const limiter = createLimiter({ concurrency: 1, maxQueued: 0 });
    await assert.rejects(
      limiter.run(async () => Promise.reject(new Error("boom"))),
      /boom/,
    );
    assert.equal(await limiter.run(async () => 2), 2);
  });
});

describe("singleFlight", () => {
  it("shares one run between concurrent callers of the same key, not across keys or after", async () => {
    const shared = singleFlight<number>();
    let calls = 0;
    const gate = deferred();
    const task = async (): Promise<number> => {
      calls += 1;
      await gate.promise;
      return calls;
    };
    const same = [shared("a", task), shared("a", task), shared("a", task)];
    const other = shared("b", task);
    gate.resolve();
    assert.deepEqual(await Promise.all(same), [2, 2, 2]);
    assert.equal(await other, 2);
    assert.equal(await shared("a", task), 3);
  });
});

describe("freshShared", () => {
  /** A read whose answers are released by hand; `value` is the object's state when the read was sent. */
  const controlledReads = () => {
    let state = 0;
    const sent: { value: number; release: () => void }[] = [];
    const read = async (): Promise<number> => {
      const value = state;
      const gate = deferred();
      sent.push({ value, release: gate.resolve });
      await gate.promise;
      return value;
    };
    return { read, sent, change: () => (state += 1) };
  };
  const flush = () => new Promise((resolve) => setImmediate(resolve));

  it("never answers a caller with a read sent before it arrived; callers meanwhile share the next read", async () => {
    const shared = freshShared<number>();
    const object = controlledReads();
    const first = shared("k", object.read);
    await flush();
    assert.equal(object.sent.length, 1);
    object.change(); // the object changes after the first read was sent
    const later = [shared("k", object.read), shared("k", object.read), shared("k", object.read)];
    await flush();
    assert.equal(object.sent.length, 1, "callers arriving during a read wait rather than send their own");
    object.sent[0]!.release();
    assert.equal(await first, 0);
    await flush();
    assert.equal(object.sent.length, 2, "one read for everyone who waited");
    object.sent[1]!.release();
    assert.deepEqual(await Promise.all(later), [1, 1, 1], "they see the change made before they arrived");
  });

  it("does not share across keys, passes failures to the callers of that read, and starts afresh after", async () => {
    const shared = freshShared<number>();
    let calls = 0;
    const failing = async (): Promise<number> => {
      calls += 1;
      throw new Error(`read ${calls} failed`);
    };
    const a = shared("a", failing);
    const b = shared("b", failing);
    const waiting = shared("a", failing);
    await assert.rejects(a, /read 1 failed/);
    await assert.rejects(b, /read 2 failed/);
    await assert.rejects(waiting, /read 3 failed/);
    assert.equal(await shared("a", async () => 7), 7);
  });
});
