import assert from "node:assert/strict";
import { appendFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { isDone, openJournal, parseJournal, readOnlyJournal } from "../../lib/backfill/journal.js";

const dir = await mkdtemp(join(tmpdir(), "unjpeg-journal-"));
after(() => rm(dir, { recursive: true, force: true }));

test("entries appended are on disk and reloaded on reopen", async () => {
  const path = join(dir, "a.jsonl");
  const journal = await openJournal(path, "s3://b/p");
  assert.equal(journal.resumed, 0);
  await Promise.all([
    journal.append({ k: "a.jpg", e: "e1", o: "restored", q: 20, br: 10, bw: 20 }),
    journal.append({ k: "b.jpg", e: "e2", o: "skipped", r: "high-quality" }),
    journal.append({ k: "c.jpg", o: "failed", r: "SlowDown", f: "temporary", m: "slow" }),
  ]);
  // No close: the records must already be durable when append resolves.
  const lines = (await readFile(path, "utf8")).trim().split("\n");
  assert.equal(lines.length, 4);
  assert.equal(JSON.parse(lines[0]!).source, "s3://b/p");
  await journal.close();

  const again = await openJournal(path, "s3://b/p");
  assert.equal(again.resumed, 3);
  assert.equal(isDone(again.entries, { key: "a.jpg", etag: "e1" }), true);
  assert.equal(isDone(again.entries, { key: "a.jpg", etag: "changed" }), false, "a changed object is redone");
  assert.equal(isDone(again.entries, { key: "b.jpg" }), true);
  assert.equal(isDone(again.entries, { key: "c.jpg" }), false, "temporary failures are retried");
  assert.equal(isDone(again.entries, { key: "d.jpg" }), false);
  await again.close();
});

test("a torn last line (kill -9 mid-write) is dropped and overwritten, not merged", async () => {
  const path = join(dir, "torn.jsonl");
  const journal = await openJournal(path, "s3://b/p");
  await journal.append({ k: "a.jpg", o: "restored" });
  await journal.close();
  await appendFile(path, '{"k":"b.jpg","o":"resto');
  const reopened = await openJournal(path, "s3://b/p");
  assert.equal(reopened.resumed, 1);
  assert.equal(isDone(reopened.entries, { key: "b.jpg" }), false);
  await reopened.append({ k: "c.jpg", o: "skipped", r: "not-jpeg" });
  await reopened.close();
  const parsed = parseJournal(await readFile(path, "utf8"), path);
  assert.deepEqual([...parsed.entries.keys()], ["a.jpg", "c.jpg"]);
});

test("a state file of another job, or not a state file, is refused", async () => {
  const path = join(dir, "other.jsonl");
  (await openJournal(path, "s3://b/one")).close();
  await assert.rejects(openJournal(path, "s3://b/two"), { code: "BACKFILL_STATE_INVALID" });
  const junk = join(dir, "junk.jsonl");
  await writeFile(junk, "hello\nworld\n");
  await assert.rejects(openJournal(junk, "s3://b/p"), { code: "BACKFILL_STATE_INVALID" });
});

test("the latest entry of a key wins; versions are separate objects", () => {
  const text = [
    JSON.stringify({ unjpeg: "backfill-state", version: 1, source: "x", createdAt: "" }),
    JSON.stringify({ k: "a", o: "failed", f: "temporary" }),
    JSON.stringify({ k: "a", o: "restored" }),
    JSON.stringify({ k: "a", v: "v2", o: "skipped" }),
    "",
  ].join("\n");
  const parsed = parseJournal(text, "x");
  assert.equal(parsed.count, 3);
  assert.equal(isDone(parsed.entries, { key: "a" }), true);
  assert.equal(isDone(parsed.entries, { key: "a", versionId: "v2" }), true);
  assert.equal(isDone(parsed.entries, { key: "a", versionId: "v3" }), false);
});

test("a dry run reads the state file but never writes it", async () => {
  const path = join(dir, "dry.jsonl");
  const journal = await openJournal(path, "s3://b/p");
  await journal.append({ k: "a.jpg", o: "restored" });
  await journal.close();
  const before = await readFile(path, "utf8");
  const dry = await readOnlyJournal(path, "s3://b/p");
  assert.equal(dry.resumed, 1);
  await dry.append({ k: "b.jpg", o: "would-restore" });
  assert.equal(await readFile(path, "utf8"), before);
  assert.equal((await readOnlyJournal(join(dir, "missing.jsonl"), "s3://b/p")).resumed, 0);
});

test("a journal larger than the read chunk, with multi-byte keys and a torn end, reopens exactly", async () => {
  const path = join(dir, "big.jsonl");
  const journal = await openJournal(path, "s3://b/p");
  const keys = Array.from({ length: 20_000 }, (_, i) => `fotos/año-${i}/café ☕ ${"x".repeat(i % 50)}.jpg`);
  await Promise.all(
    keys.map((k) =>
      journal.append({
        k,
        e: "d41d8cd98f00b204e9800998ecf8427e",
        o: "skipped",
        r: "high-quality",
        q: 95,
        br: 65536,
        bw: 0,
      }),
    ),
  );
  await journal.close();
  assert.ok((await readFile(path)).length > 2 * 1024 * 1024, "spans several 1 MiB read chunks");
  await appendFile(path, '{"k":"fotos/año-torn');
  const reopened = await openJournal(path, "s3://b/p");
  assert.equal(reopened.resumed, keys.length);
  assert.ok(keys.every((k) => isDone(reopened.entries, { key: k })));
  await reopened.append({ k: "last.jpg", o: "restored" });
  await reopened.close();
  const parsed = parseJournal(await readFile(path, "utf8"), path);
  assert.equal(parsed.count, keys.length + 1);
});
