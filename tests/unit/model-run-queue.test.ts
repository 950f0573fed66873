/** The model's run queue (lib/model/run-queue.ts): turns in arrival order, bounded, left on abort. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RestoreAbortedError } from "../../lib/model/errors.js";
import { createRunQueue } from "../../lib/model/run-queue.js";

/** Lets every settled promise's callbacks run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Enters `queue` and records, in `order`, when the turn was given. */
function track(
  queue: ReturnType<typeof createRunQueue>,
  name: string,
  order: string[],
  limit: number,
  signal?: AbortSignal,
) {
  const turn = queue.enter(limit, signal).then((end) => {
    order.push(name);
    return end;
  });
  turn.catch(() => undefined); // some are expected to reject; each test awaits what it checks
  return turn;
}

describe("createRunQueue", () => {
  it("gives at most `limit` turns at once, the rest in arrival order", async () => {
    const queue = createRunQueue();
    const order: string[] = [];
    const turns = ["a", "b", "c", "d", "e"].map((name) => track(queue, name, order, 2));
    await settle();
    assert.deepEqual(order, ["a", "b"]);
    assert.deepEqual(queue.stats(), { running: 2, waiting: 3, peakRunning: 2 });
    (await turns[1]!)();
    await settle();
    assert.deepEqual(order, ["a", "b", "c"]);
    (await turns[0]!)();
    (await turns[0]!)(); // ending a turn twice frees one place only
    await settle();
    assert.deepEqual(order, ["a", "b", "c", "d"]);
    assert.equal(queue.stats().running, 2);
    for (const turn of turns.slice(2)) (await turn)();
    await settle();
    assert.deepEqual(order, ["a", "b", "c", "d", "e"]);
    assert.deepEqual(queue.stats(), { running: 0, waiting: 0, peakRunning: 2 });
  });

  it("lets a waiter whose signal fires leave at once, without a turn, and keeps the others' places", async () => {
    const queue = createRunQueue();
    const order: string[] = [];
    const first = track(queue, "first", order, 1);
    const controller = new AbortController();
    const leaving = track(queue, "leaving", order, 1, controller.signal);
    const next = track(queue, "next", order, 1);
    await settle();
    controller.abort(new Error("deadline"));
    await assert.rejects(leaving, (error: unknown) => {
      assert.ok(error instanceof RestoreAbortedError);
      assert.equal(error.code, "RESTORE_ABORTED");
      assert.match(error.message, /"queue"/);
      assert.equal((error.cause as Error).message, "deadline");
      return true;
    });
    assert.deepEqual(queue.stats(), { running: 1, waiting: 1, peakRunning: 1 });
    (await first)();
    (await next)();
    assert.deepEqual(order, ["first", "next"]);
  });

  it("refuses at once a signal already aborted and a limit below one", async () => {
    const queue = createRunQueue();
    await assert.rejects(queue.enter(1, AbortSignal.abort()), RestoreAbortedError);
    await assert.rejects(queue.enter(0), RangeError);
    await assert.rejects(queue.enter(1.5), RangeError);
    assert.deepEqual(queue.stats(), { running: 0, waiting: 0, peakRunning: 0 });
  });

  it("never lets a later caller overtake one that waits, even under a larger limit", async () => {
    const queue = createRunQueue();
    const order: string[] = [];
    const held = track(queue, "held", order, 1);
    const strict = track(queue, "strict", order, 1);
    const loose = track(queue, "loose", order, 4);
    await settle();
    assert.deepEqual(order, ["held"], "loose waits behind strict");
    (await held)();
    await settle();
    assert.deepEqual(order, ["held", "strict", "loose"], "then both: loose allows two at once");
    (await strict)();
    (await loose)();
    queue.resetPeak();
    assert.equal(queue.stats().peakRunning, 0);
  });
});
