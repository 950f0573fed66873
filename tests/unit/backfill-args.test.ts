import assert from "node:assert/strict";
import { test } from "node:test";
import { UsageError } from "../../lib/cli/args.js";
import { backfillConfig } from "../../lib/cli/backfill.js";
import { parseBackfillArgs } from "../../lib/cli/backfill-args.js";

test("defaults, and a state file named after the source", () => {
  const args = parseBackfillArgs(["s3://photos/2019/"])!;
  assert.deepEqual(args.location, { bucket: "photos", prefix: "2019/" });
  assert.equal(args.source, "s3://photos/2019/");
  assert.equal(args.concurrency, 8);
  assert.equal(args.restoreConcurrency, 2);
  assert.equal(args.dryRun, false);
  assert.equal(args.redoStale, false);
  assert.equal(args.retries, 5);
  assert.match(args.statePath, /^unjpeg-backfill-photos-[0-9a-f]{8}\.state\.jsonl$/);
  assert.notEqual(parseBackfillArgs(["s3://photos/2020/"])!.statePath, args.statePath);
  assert.equal(parseBackfillArgs(["--help"]), null);
});

test("every option", () => {
  const now = new Date("2024-06-10T00:00:00Z");
  const args = parseBackfillArgs(
    [
      "s3://b",
      "--endpoint",
      "http://localhost:4569",
      "--concurrency",
      "16",
      "--restore-concurrency",
      "3",
      "--dry-run",
      "--skip-quality",
      "80",
      "--format",
      "WEBP",
      "--include",
      "**/*.jpg",
      "--include",
      "**/*.jpeg",
      "--exclude",
      "tmp/**",
      "--since",
      "2d",
      "--redo-stale",
      "--state",
      "s.jsonl",
      "--report",
      "r.json",
      "--retries",
      "3",
      "--progress-every",
      "30",
    ],
    now,
  )!;
  assert.deepEqual(args.location, { bucket: "b", prefix: "" });
  assert.equal(args.concurrency, 16);
  assert.equal(args.restoreConcurrency, 3);
  assert.equal(args.dryRun, true);
  assert.equal(args.skipQuality, 80);
  assert.equal(args.format, "webp");
  assert.deepEqual(args.include, ["**/*.jpg", "**/*.jpeg"]);
  assert.deepEqual(args.exclude, ["tmp/**"]);
  assert.equal(args.since?.toISOString(), "2024-06-08T00:00:00.000Z");
  assert.equal(args.redoStale, true);
  assert.equal(args.statePath, "s.jsonl");
  assert.equal(args.reportPath, "r.json");
  assert.equal(args.retries, 3);
  assert.equal(args.progressEverySeconds, 30);

  const config = backfillConfig(args, {});
  assert.equal(config.s3Endpoint, "http://localhost:4569");
  assert.equal(config.s3ForcePathStyle, true);
  assert.equal(config.skipQuality, 80);
  assert.equal(config.format, "webp");
  assert.equal(config.modelConcurrency, 3, "--restore-concurrency sets the process's run queue");
});

test("a manifest is its own source; bad usage is a UsageError", () => {
  const args = parseBackfillArgs(["--manifest", "s3://inv/manifest.json"])!;
  assert.equal(args.location, null);
  assert.equal(args.source, "manifest:s3://inv/manifest.json");
  for (const bad of [
    [],
    ["photos/2019"],
    ["s3://a", "s3://b"],
    ["s3://a", "--concurrency", "0"],
    ["s3://a", "--skip-quality", "x"],
    ["s3://a", "--format", "gif"],
    ["s3://a", "--since", "soon"],
    ["s3://a", "--endpoint", "not a url"],
    ["s3://a", "--no-such-option"],
  ]) {
    assert.throws(() => parseBackfillArgs(bad), UsageError, JSON.stringify(bad));
  }
});
