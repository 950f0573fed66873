/**
 * Backfill options against a real s3rver and the real restore (small random model): dry run, filters,
 * --redo-stale, a CSV manifest, and the cost of triage (one ranged GET per skipped object).
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { gzipSync } from "node:zlib";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { memoryJournal } from "../../lib/backfill/journal.js";
import { deriveListedObject } from "../../lib/backfill/outcome.js";
import type { BackfillReport } from "../../lib/backfill/run.js";
import { runBackfill } from "../../lib/backfill/run.js";
import { listObjects } from "../../lib/storage/listing.js";
import { buildDerivativeMetadata } from "../../lib/storage/metadata.js";
import { headMetadata, keyOf, kindOf, listKeys, spawnCli, uploadArchive } from "./backfill-helpers.js";
import { BUCKET, startTestStack, type TestStack, testDeriver } from "./upload-helpers.js";

const COUNT = 80;
const PREFIX = "opts/";
const count = (kind: string) =>
  Array.from({ length: COUNT }, (_, i) => kindOf(i)).filter((k) => k === kind).length;

let stack: TestStack;
let dir: string;
before(async () => {
  stack = await startTestStack();
  dir = await mkdtemp(join(tmpdir(), "unjpeg-backfill-opts-"));
  await uploadArchive(stack.s3, COUNT, PREFIX);
});
after(async () => {
  await stack?.close();
  await rm(dir, { recursive: true, force: true });
});

const cli = async (
  args: string[],
): Promise<{ code: number | null; report: BackfillReport; stderr: string }> => {
  const result = await spawnCli(["backfill", ...args, "--endpoint", stack.local.endpoint]).output;
  return {
    code: result.code,
    report: JSON.parse(result.stdout || "null") as BackfillReport,
    stderr: result.stderr,
  };
};

test("a dry run triages, estimates, and writes nothing (not even its state file)", async () => {
  const state = join(dir, "dry.jsonl");
  const { code, report } = await cli([
    `s3://${BUCKET}/${PREFIX}`,
    "--dry-run",
    "--state",
    state,
    "--report",
    join(dir, "dry.json"),
  ]);
  assert.equal(code, 0);
  assert.equal(report.estimate?.restores, count("low") + count("broken"));
  assert.ok((report.estimate?.sourceBytes ?? 0) > 0);
  assert.equal(report.total.skippedBy["high-quality"], count("high"));
  assert.equal(report.run.bytesWritten, 0);
  await assert.rejects(stat(state));
  assert.ok((await stat(join(dir, "dry.json"))).size > 0, "--report file written");
  assert.deepEqual(
    (await listKeys(stack.s3, PREFIX)).filter((k) => k.includes(".restored.")),
    [],
  );
});

test("--include, --exclude and --since filter before any request", async () => {
  const { report } = await cli([
    `s3://${BUCKET}/${PREFIX}`,
    "--dry-run",
    "--include",
    "**/*.png",
    "--include",
    "opts/0000?.jpg",
    "--exclude",
    "**/00003.png",
  ]);
  // opts/00000..00009 named .jpg, plus the .png files except 00003.png.
  const keys = Array.from({ length: COUNT }, (_, i) => keyOf(i, PREFIX));
  const jpgs = keys.slice(0, 10).filter((k) => k.endsWith(".jpg"));
  const pngs = keys.filter((k) => k.endsWith(".png") && !k.endsWith("00003.png"));
  assert.equal(report.run.processed, jpgs.length + pngs.length);
  assert.ok(jpgs.length > 0);
  assert.equal(report.run.filtered, COUNT - report.run.processed);
  const future = await cli([`s3://${BUCKET}/${PREFIX}`, "--dry-run", "--since", "2999-01-01"]);
  assert.equal(future.report.run.processed, 0);
  const usage = await spawnCli(["backfill", `s3://${BUCKET}/`, "--since", "someday"]).output;
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--since must be/);
});

test("a stale derivative is kept unless --redo-stale", async () => {
  const low = Array.from({ length: COUNT }, (_, i) => i).find((i) => kindOf(i) === "low")!;
  const source = keyOf(low, PREFIX);
  const target = source.replace(/\.jpg$/, ".restored.jpg");
  await stack.s3.send(
    new PutObjectCommand({
      Bucket: BUCKET,
      Key: target,
      Body: new Uint8Array([0xff, 0xd8, 0xff, 0xd9]),
      Metadata: buildDerivativeMetadata({
        sourceKey: source,
        sourceETag: "0123456789abcdef0123456789abcdef",
        sourceVersion: undefined,
        quality: 20,
        model: "old-model@0.1.0",
        restoreMs: 1,
      }),
    }),
  );
  const only = ["--include", source];
  const kept = await cli([`s3://${BUCKET}/${PREFIX}`, ...only, "--state", join(dir, "kept.jsonl")]);
  assert.equal(kept.code, 0);
  assert.deepEqual(kept.report.total.skippedBy, { "stale-kept": 1 });
  assert.equal((await headMetadata(stack.s3, target))?.["unjpeg-model"], "old-model@0.1.0");

  const redone = await cli([
    `s3://${BUCKET}/${PREFIX}`,
    ...only,
    "--redo-stale",
    "--state",
    join(dir, "redo.jsonl"),
  ]);
  assert.equal(redone.report.total.restored, 1);
  assert.equal((await headMetadata(stack.s3, target))?.["unjpeg-model"], "model-random@0.0.0-random");
});

test("a CSV manifest names the objects (URL-encoded keys) instead of a listing", async () => {
  const spaced = `${PREFIX}with space.jpg`;
  const lowBody = await (await import("./backfill-helpers.js")).archiveBodies().then((b) => b.low[0]!);
  await stack.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: spaced, Body: lowBody }));
  const manifest = join(dir, "manifest.csv");
  await writeFile(
    manifest,
    `${BUCKET},opts/with+space.jpg\n${BUCKET},${keyOf(0, PREFIX)}\n${BUCKET},opts/missing.jpg\n`,
  );
  const { report } = await cli(["--manifest", manifest, "--state", join(dir, "manifest.jsonl")]);
  assert.equal(report.run.listed, 3);
  assert.equal(report.total.restored, 1);
  assert.deepEqual(report.total.skippedBy, { "high-quality": 1, gone: 1 });
  assert.ok((await headMetadata(stack.s3, `${PREFIX}with space.restored.jpg`)) !== null);
});

test("--skip-quality moves the threshold: at 96, the quality-95 sources would be restored too", async () => {
  const { report } = await cli([
    `s3://${BUCKET}/${PREFIX}`,
    "--dry-run",
    "--skip-quality",
    "96",
    "--include",
    "opts/0001?.jpg",
  ]);
  const keys = Array.from({ length: 10 }, (_, i) => 10 + i).filter((i) => keyOf(i, PREFIX).endsWith(".jpg"));
  const jpegs = keys.filter((i) => kindOf(i) !== "not-jpeg");
  assert.equal(report.estimate?.restores, jpegs.length);
});

test("an S3 Inventory report in the bucket (manifest.json and a gzipped CSV) drives the run", async () => {
  const csv = [0, 1, 27]
    .map(
      (i) => `"${BUCKET}","${encodeURIComponent(keyOf(i, PREFIX)).replace(/%2F/g, "/")}","","true","false"`,
    )
    .join("\n");
  await stack.s3.send(
    new PutObjectCommand({ Bucket: BUCKET, Key: "inventory/data/part-0.csv.gz", Body: gzipSync(csv) }),
  );
  const manifest = {
    sourceBucket: BUCKET,
    destinationBucket: `arn:aws:s3:::${BUCKET}`,
    version: "2016-11-30",
    fileFormat: "CSV",
    fileSchema: "Bucket, Key, VersionId, IsLatest, IsDeleteMarker",
    files: [{ key: "inventory/data/part-0.csv.gz", size: 1, MD5checksum: "-" }],
  };
  await stack.s3.send(
    new PutObjectCommand({ Bucket: BUCKET, Key: "inventory/manifest.json", Body: JSON.stringify(manifest) }),
  );
  const { report } = await cli(["--manifest", `s3://${BUCKET}/inventory/manifest.json`, "--dry-run"]);
  assert.equal(report.run.listed, 3);
  // 27 is low quality and not restored by the tests above.
  assert.equal(kindOf(27), "low");
  assert.equal(report.estimate?.restores, 1);
  assert.equal(report.source, `manifest:s3://${BUCKET}/inventory/manifest.json`);
});

test("Ctrl-C: a clean stop with a report (interrupted, exit 130), then the same command finishes", async () => {
  await uploadArchive(stack.s3, 400, "sigint/");
  const state = join(dir, "sigint.jsonl");
  const args = [
    "backfill",
    `s3://${BUCKET}/sigint/`,
    "--endpoint",
    stack.local.endpoint,
    "--concurrency",
    "2",
    "--state",
    state,
  ];
  const run = spawnCli(args);
  for (;;) {
    const lines = await readFile(state, "utf8").then(
      (text) => text.split("\n").length - 2,
      () => 0,
    );
    if (lines >= 20) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  run.kill("SIGINT");
  const stopped = await run.output;
  assert.equal(stopped.code, 130, stopped.stderr);
  const report = JSON.parse(stopped.stdout) as BackfillReport;
  assert.equal(report.interrupted, true);
  assert.ok(report.run.processed < 400);
  const resumed = await spawnCli(args).output;
  const done = JSON.parse(resumed.stdout) as BackfillReport;
  assert.equal(done.interrupted, false);
  assert.equal(done.run.alreadyDone, report.run.processed);
  assert.equal(done.total.restored + done.total.skipped + done.total.failed, 400);

  const missing = await spawnCli([
    "backfill",
    "s3://no-such-bucket/",
    "--endpoint",
    stack.local.endpoint,
    "--state",
    join(dir, "nb.jsonl"),
  ]).output;
  assert.equal(missing.code, 1);
  assert.match(
    missing.stderr,
    /listing s3:\/\/no-such-bucket\/ failed: NoSuchBucket.*\[BACKFILL_LIST_FAILED\]/,
  );
});

test("triage of an object that needs no work: one ranged GET of at most 64 KiB, no HEAD", async () => {
  const deriver = await testDeriver(stack);
  const requests: string[] = [];
  deriver.s3.middlewareStack.add(
    (next, context) => async (args) => {
      requests.push(
        `${context.commandName}${(args.input as { Range?: string }).Range ? ` ${(args.input as { Range?: string }).Range}` : ""}`,
      );
      return next(args);
    },
    { step: "initialize", name: "countRequests" },
  );
  const objects = [];
  for await (const object of listObjects(deriver.s3, { bucket: BUCKET, prefix: PREFIX })) {
    if (kindOf(Number(object.key.slice(PREFIX.length, PREFIX.length + 5))) === "high") objects.push(object);
    if (objects.length === 10) break;
  }
  requests.length = 0;
  const report = await runBackfill({
    source: "test",
    objects,
    journal: memoryJournal(),
    concurrency: 2,
    process: (object, signal) => deriveListedObject(deriver, object, signal),
  });
  assert.equal(report.run.skipped, 10);
  assert.equal(requests.length, 10, requests.join(", "));
  assert.ok(requests.every((r) => r.startsWith("GetObjectCommand bytes=0-")));
  assert.ok(report.run.bytesRead / 10 <= 64 * 1024);
});
