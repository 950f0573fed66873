import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { memoryJournal, openJournal } from "../../lib/backfill/journal.js";
import type { ListedObject } from "../../lib/backfill/manifest.js";
import { type ProcessObject, runBackfill } from "../../lib/backfill/run.js";
import { UnjpegError } from "../../lib/errors.js";

const dir = await mkdtemp(join(tmpdir(), "unjpeg-run-"));
after(() => rm(dir, { recursive: true, force: true }));

const objects = (n: number): ListedObject[] =>
  Array.from({ length: n }, (_, i) => ({
    bucket: "b",
    key: `k/${String(i).padStart(4, "0")}.jpg`,
    etag: `e${i}`,
  }));

const slowDown = () =>
  Object.assign(new Error("Please reduce your request rate"), {
    name: "SlowDown",
    $metadata: { httpStatusCode: 503 },
  });

test("outcomes, filters, derivatives, retries and the report", async () => {
  const attempts = new Map<string, number>();
  const process: ProcessObject = async (object) => {
    const n = (attempts.get(object.key) ?? 0) + 1;
    attempts.set(object.key, n);
    const i = Number(object.key.slice(2, 6));
    if (i % 10 === 0 && n === 1) throw slowDown();
    if (i === 7) throw new UnjpegError("JPEG_MALFORMED", "truncated scan", { status: 422 });
    if (i % 3 === 0) return { outcome: "restored", quality: 20, bytesRead: 100, bytesWritten: 50 };
    return { outcome: "skipped", reason: "high-quality", quality: 95, bytesRead: 10, bytesWritten: 0 };
  };
  const list = [...objects(30), { bucket: "b", key: "k/0001.restored.jpg" }, { bucket: "b", key: "k/x.png" }];
  const report = await runBackfill({
    source: "s3://b/k/",
    objects: list,
    process,
    journal: memoryJournal(),
    concurrency: 4,
    filter: (o) => o.key.endsWith(".jpg"),
    isDerivativeKey: (key) => key.includes(".restored."),
    retry: { sleep: async () => {} },
  });
  assert.equal(report.run.listed, 32);
  assert.equal(report.run.derivatives, 1);
  assert.equal(report.run.filtered, 1);
  assert.equal(report.run.processed, 30);
  assert.equal(report.run.restored, 10); // 0, 3, ..., 27
  assert.equal(report.run.failed, 1);
  assert.equal(report.run.skipped, 19);
  assert.equal(report.run.retries, 3); // 0, 10, 20
  assert.equal(report.run.bytesRead, 10 * 100 + 19 * 10);
  assert.deepEqual(report.total.skippedBy, { "high-quality": 19 });
  assert.deepEqual(report.failures, [
    { key: "k/0007.jpg", kind: "permanent", code: "JPEG_MALFORMED", message: "truncated scan" },
  ]);
  assert.equal(report.interrupted, false);
});

test("concurrency is bounded and the source is pulled lazily", async () => {
  let running = 0;
  let peak = 0;
  let pulled = 0;
  let finished = 0;
  async function* source() {
    for (const object of objects(50)) {
      pulled++;
      yield object;
    }
  }
  const report = await runBackfill({
    source: "s3://b/",
    objects: source(),
    journal: memoryJournal(),
    concurrency: 3,
    process: async () => {
      running++;
      peak = Math.max(peak, running);
      // Pulled at most one ahead of the running ones, never the whole listing.
      assert.ok(pulled <= peak + finished + 1);
      await new Promise((r) => setTimeout(r, 2));
      running--;
      finished++;
      return { outcome: "skipped", reason: "high-quality", bytesRead: 1, bytesWritten: 0 };
    },
  });
  assert.equal(peak, 3);
  assert.equal(report.run.processed, 50);
});

test("interrupted, then resumed: nothing lost, nothing done twice", async () => {
  const path = join(dir, "resume.jsonl");
  const processed: string[] = [];
  const controller = new AbortController();
  const first = await runBackfill({
    source: "s3://b/",
    objects: objects(100),
    journal: await openJournal(path, "s3://b/"),
    concurrency: 4,
    signal: controller.signal,
    process: async (object, signal) => {
      await new Promise((r) => setTimeout(r, 1));
      if (processed.length === 40) controller.abort();
      if (signal.aborted) throw new Error("aborted");
      processed.push(object.key);
      return { outcome: "restored", bytesRead: 1, bytesWritten: 1 };
    },
  });
  assert.equal(first.interrupted, true);
  const firstDone = first.run.restored;
  assert.ok(firstDone >= 40 && firstDone < 100);

  const journal = await openJournal(path, "s3://b/");
  assert.equal(journal.resumed, firstDone);
  const second: string[] = [];
  const report = await runBackfill({
    source: "s3://b/",
    objects: objects(100),
    journal,
    concurrency: 4,
    process: async (object) => {
      second.push(object.key);
      return { outcome: "restored", bytesRead: 1, bytesWritten: 1 };
    },
  });
  await journal.close();
  assert.equal(report.run.alreadyDone, firstDone);
  assert.equal(second.length, 100 - firstDone);
  const journaledFirst = new Set(processed.slice(0, firstDone));
  assert.ok(
    second.every((key) => !journaledFirst.has(key)),
    "no journaled object processed again",
  );
  assert.equal(report.total.restored, 100);
});

test("a dry run reports the estimated restores", async () => {
  const report = await runBackfill({
    source: "s3://b/",
    objects: objects(10),
    journal: memoryJournal(),
    concurrency: 2,
    dryRun: true,
    process: async (object) =>
      object.key.endsWith("1.jpg") || object.key.endsWith("2.jpg")
        ? { outcome: "would-restore", quality: 10, bytesRead: 1, bytesWritten: 0, sourceBytes: 1500 }
        : { outcome: "skipped", reason: "high-quality", bytesRead: 1, bytesWritten: 0 },
  });
  assert.deepEqual(report.estimate, { restores: 2, sourceBytes: 3000 });
  assert.equal(report.run.bytesWritten, 0);
});

test("a failing source stops the pool only after the calls in flight have settled", async () => {
  const { forEachConcurrent } = await import("../../lib/backfill/pool.js");
  const settled: number[] = [];
  async function* source() {
    yield 1;
    yield 2;
    throw new Error("listing failed");
  }
  await assert.rejects(
    forEachConcurrent(source(), 4, async (n) => {
      await new Promise((r) => setTimeout(r, 20));
      settled.push(n);
    }),
    /listing failed/,
  );
  assert.deepEqual(settled.sort(), [1, 2]);
});
