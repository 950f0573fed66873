/**
 * The backfill CLI against a real s3rver and the real restore (the small random test model): 2,000 tiny
 * objects, the process killed with SIGKILL midway, then resumed with the same state file.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { BackfillReport } from "../../lib/backfill/run.js";
import { headMetadata, keyOf, kindOf, listKeys, spawnCli, uploadArchive } from "./backfill-helpers.js";
import { BUCKET, startTestStack, type TestStack } from "./upload-helpers.js";

const COUNT = 2000;
const expected = { high: 0, low: 0, "not-jpeg": 0, broken: 0 };
for (let i = 0; i < COUNT; i++) expected[kindOf(i)]++;

let stack: TestStack;
let dir: string;
before(async () => {
  stack = await startTestStack();
  dir = await mkdtemp(join(tmpdir(), "unjpeg-backfill-"));
  await uploadArchive(stack.s3, COUNT);
});
after(async () => {
  await stack?.close();
  await rm(dir, { recursive: true, force: true });
});

const journalLines = async (path: string): Promise<Record<string, unknown>[]> => {
  const text = await readFile(path, "utf8");
  // The last line may be torn by the kill; the journal drops it on reopen, so do we.
  return text
    .split("\n")
    .slice(1, -1)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
};

test("kill -9 midway, resume: every object done once, the right derivatives, a correct report", async () => {
  const state = join(dir, "state.jsonl");
  const args = [
    "backfill",
    `s3://${BUCKET}/archive/`,
    "--endpoint",
    stack.local.endpoint,
    "--concurrency",
    "8",
    "--state",
    state,
    "--progress-every",
    "1",
  ];

  const first = spawnCli(args);
  // Wait until a good part of the archive is journaled, then kill without warning.
  for (;;) {
    const lines = await readFile(state, "utf8").then(
      (text) => text.split("\n").length - 2,
      () => 0,
    );
    if (lines >= 600) break;
    const exited = await Promise.race([
      first.output.then(() => true),
      new Promise((r) => setTimeout(() => r(false), 20)),
    ]);
    assert.equal(exited, false, "the first run ended before it could be killed");
  }
  first.kill("SIGKILL");
  const killed = await first.output;
  assert.equal(killed.signal, "SIGKILL");
  const before = await journalLines(state);
  assert.ok(before.length >= 600 && before.length < COUNT, `journaled before the kill: ${before.length}`);

  const second = spawnCli(args);
  const result = await second.output;
  // Broken sources are skips with their reason (the one object-event policy), not failures: exit 0.
  assert.equal(result.code, 0, `exit 0: nothing failed\n${result.stderr}`);
  const report = JSON.parse(result.stdout) as BackfillReport;
  assert.match(result.stderr, /resuming: \d+ objects already done/);
  assert.match(result.stderr, /^progress: /m, "plain progress lines when stderr is not a terminal");

  // Nothing duplicated: each object is in the journal once; the second run skipped all the first did.
  const lines = await journalLines(state);
  const keys = lines.map((line) => line["k"] as string);
  assert.equal(new Set(keys).size, keys.length, "an object was journaled twice");
  assert.equal(keys.length, COUNT, "nothing lost");
  assert.equal(report.run.alreadyDone, before.length);
  assert.equal(report.run.processed, COUNT - before.length);

  // The right derivatives, and only those.
  const all = await listKeys(stack.s3);
  const derivatives = all.filter((k) => k.includes(".restored."));
  const lowKeys = Array.from({ length: COUNT }, (_, i) => i)
    .filter((i) => kindOf(i) === "low")
    .map((i) => keyOf(i));
  assert.deepEqual(derivatives, lowKeys.map((k) => k.replace(/\.jpg$/, ".restored.jpg")).sort());
  const meta = await headMetadata(stack.s3, derivatives[0]!);
  assert.equal(meta?.["unjpeg-derivative"], "1");
  assert.equal(meta?.["unjpeg-quality"], "20");
  assert.equal(meta?.["unjpeg-model"], "model-random@0.0.0-random");

  // The report: objects in flight at the kill whose derivative was already written are found current.
  const current = report.total.skippedBy["current"] ?? 0;
  assert.ok(current <= 8, `redone beyond the 8 in flight: ${current}`);
  assert.equal(report.total.restored + current, expected.low);
  assert.equal(report.total.skippedBy["high-quality"], expected.high);
  assert.equal(report.total.skippedBy["not-jpeg"], expected["not-jpeg"]);
  assert.equal(report.total.skippedBy["corrupt"], expected.broken);
  assert.equal(report.total.failed, 0);
  assert.deepEqual(report.total.failedBy, {});
  assert.equal(report.failures.length, 0);
  assert.equal(report.interrupted, false);
  assert.ok(report.wallSeconds > 0);

  // A third run finds nothing to do.
  const third = await spawnCli(args).output;
  const again = JSON.parse(third.stdout) as BackfillReport;
  assert.equal(again.run.processed, 0);
  assert.equal(again.run.alreadyDone, COUNT);
  assert.equal(again.run.derivatives, expected.low);
});
