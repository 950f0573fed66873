import assert from "node:assert/strict";
import { test } from "node:test";
import {
  emptyCounts,
  formatBytes,
  formatDuration,
  rate,
  renderBar,
  renderPlain,
  startProgress,
} from "../../lib/backfill/progress.js";

const sample = () => ({
  ...emptyCounts(),
  listed: 1000,
  filtered: 100,
  alreadyDone: 100,
  restored: 50,
  skipped: 330,
  failed: 20,
  bytesRead: 3 * 1024 * 1024,
  bytesWritten: 512 * 1024,
  listingDone: true,
});

test("rate and ETA from what is left of this run's work", () => {
  const r = rate(sample(), 10_000);
  assert.equal(r.objectsPerSecond, 40);
  assert.equal(r.etaSeconds, 10); // 800 to do, 400 done, 40/s
  assert.equal(rate({ ...sample(), listingDone: false }, 10_000).etaSeconds, null, "no ETA while listing");
});

test("the TTY bar shows counts by outcome, rate, bytes and ETA within the width", () => {
  const line = renderBar(sample(), 10_000, 400);
  assert.match(line, /^\[##########----------\] 50% 400\/800 /);
  for (const part of [
    "restored 50",
    "skipped 330",
    "failed 20",
    "done before 100",
    "40.0 obj/s",
    "read 3.0 MiB",
    "wrote 512.0 KiB",
    "ETA 10s",
  ]) {
    assert.ok(line.includes(part), `${part} in ${line}`);
  }
  assert.ok(renderBar(sample(), 10_000, 60).length <= 60);
  assert.match(renderBar({ ...sample(), listingDone: false }, 1000), /listing 400\/800\+/);
});

test("plain lines for logs", () => {
  assert.match(renderPlain(sample(), 125_000), /^progress: 400\/800 after 2m05s · restored 50/);
});

test("formatting helpers", () => {
  assert.equal(formatBytes(0), "0 B");
  assert.equal(formatBytes(1536), "1.5 KiB");
  assert.equal(formatDuration(3725), "1h02m");
  assert.equal(formatDuration(59.6), "1m00s");
});

test("a non-TTY stream gets whole lines; a TTY gets the line redrawn in place", () => {
  const plain: string[] = [];
  startProgress(sample(), { write: (t: string) => plain.push(t), isTTY: false }).stop();
  assert.equal(plain.length, 1);
  assert.ok(plain[0]!.startsWith("progress: ") && plain[0]!.endsWith("\n"));
  const tty: string[] = [];
  startProgress(sample(), { write: (t: string) => tty.push(t), isTTY: true, columns: 200 }).stop();
  assert.ok(tty[0]!.startsWith("\r\x1b[2K["));
  assert.equal(tty.at(-1), "\n");
});
