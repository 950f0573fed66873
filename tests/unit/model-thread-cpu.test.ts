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
    const processBefore = processCpuMs();
    const start = performance.now();
    // Busy until this thread's clock has counted 30 ms: on a loaded machine the thread may get a small
    // share of the wall time (spinning 60 ms of wall time got under 5 ms of CPU at a load of 10).
    while (ownThreadCpuMs()! - before < 30 && performance.now() - start < 5000) spin(1);
    const wall = performance.now() - start;
    const used = ownThreadCpuMs()! - before;
    assert.ok(used >= 30, `used ${used} ms in ${wall} ms`);
    assert.ok(used <= wall + 5, `used ${used} ms, more than the ${wall} ms it took`);
    assert.ok(processCpuMs() - processBefore >= used * 0.9, "the process's time includes it");
  });

  it("leaves out another thread's work, which the process's time and that thread's own include", async () => {
    const threadsBefore = new Set(listThreads());
    // `on`, not `once`: the listener keeps the worker alive until it is terminated. With `once` its thread
    // ended right after answering, sometimes before the reading below, and its time then read as 0.
    const worker = new Worker(
      // It works until its own thread's clock has counted 60 ms (at most 5 s): on a loaded machine 150 ms
      // of wall time gave it under 6 ms of CPU.
      "const { parentPort } = require('node:worker_threads'); const fs = require('node:fs'); const ns = () => Number(fs.readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ')[0]); parentPort.on('message', () => { const start = ns(); const end = Date.now() + 5000; while (ns() - start < 60e6 && Date.now() < end); parentPort.postMessage('done'); });",
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
