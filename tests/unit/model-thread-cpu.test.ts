/**
 * Per-thread CPU time (lib/model/thread-cpu.ts), which keeps model runs in the model worker apart from
 * the work that overlaps them here: a busy worker thread adds to the process's CPU time, not this
 * thread's; this thread's own work adds to both.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Worker } from "node:worker_threads";
import {
  hasThreadCpu,
  listThreads,
  ownThreadCpuMs,
  processCpuMs,
  threadsCpuMs,
} from "../../lib/model/thread-cpu.js";

function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // busy
  }
}

describe("per-thread CPU time", {
  skip: !hasThreadCpu() && "no /proc/<pid>/task/<tid>/schedstat here",
}, () => {
  it("counts this thread's own work", () => {
    const before = ownThreadCpuMs()!;
    spin(60);
    const used = ownThreadCpuMs()! - before;
    // On a shared machine the thread may wait for a core: at least some, never more than the wall time.
    assert.ok(used > 5 && used < 200, `used ${used} ms`);
  });

  it("leaves out another thread's work, which the process's time and that thread's own include", async () => {
    const threadsBefore = new Set(listThreads());
    // `on`, not `once`: the listener keeps the worker alive until it is terminated. With `once` its thread
    // ended right after answering, sometimes before the reading below, and its time then read as 0.
    const worker = new Worker(
      "const { parentPort } = require('node:worker_threads'); parentPort.on('message', () => { const end = Date.now() + 150; while (Date.now() < end); parentPort.postMessage('done'); });",
      { eval: true },
    );
    await new Promise((resolve) => worker.once("online", resolve));
    const theirs = listThreads().filter((tid) => !threadsBefore.has(tid));
    const own = ownThreadCpuMs()!;
    const processStart = processCpuMs();
    const theirsStart = threadsCpuMs(theirs)!;
    worker.postMessage("go");
    await new Promise((resolve) => worker.once("message", resolve));
    const ownUsed = ownThreadCpuMs()! - own;
    const processUsed = processCpuMs() - processStart;
    const theirsUsed = threadsCpuMs(theirs)! - theirsStart;
    await worker.terminate();
    assert.ok(ownUsed < 50, `this thread waited, using ${ownUsed} ms`);
    assert.ok(theirsUsed > 20, `the worker's threads used ${theirsUsed} ms`);
    assert.ok(processUsed >= theirsUsed * 0.9, `process ${processUsed} ms ≥ worker ${theirsUsed} ms`);
  });

  it("counts a thread that has ended as 0", () => {
    assert.equal(threadsCpuMs([2 ** 30]), 0);
  });
});
