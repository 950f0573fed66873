/**
 * Backfill throughput on a real s3rver (loopback), through the same loop and derive core the CLI runs:
 *   1. triage only: objects that need no work (high quality), objects/s, and the S3 requests and bytes
 *      each one cost (target: one ranged GET of at most 64 KiB, whatever the object's size);
 *   2. restore-bound: low-quality objects restored and written, at each concurrency.
 * Prints one table.
 *
 *   npx tsx bench/backfill.ts [--skip-count 500] [--skip-size 1600x1200] [--restore-count 12]
 *                             [--restore-size 256x192] [--concurrency 1,2,4] [--triage-concurrency 16]
 *                             [--model DIR]   (default: the shipped model)
 */
import { parseArgs } from "node:util";
import { memoryJournal } from "../lib/backfill/journal.js";
import type { ListedObject } from "../lib/backfill/manifest.js";
import { deriveListedObject } from "../lib/backfill/outcome.js";
import { forEachConcurrent } from "../lib/backfill/pool.js";
import { type BackfillReport, runBackfill } from "../lib/backfill/run.js";
import { shippedModelDir } from "../lib/model/default-model.js";
import type { Deriver } from "../lib/storage/derive.js";
import { listObjects } from "../lib/storage/listing.js";
import {
  BUCKET,
  makeJpeg,
  putBytes,
  startTestStack,
  testDeriver,
} from "../tests/integration/upload-helpers.js";

const { values } = parseArgs({
  options: {
    "skip-count": { type: "string", default: "500" },
    "skip-size": { type: "string", default: "1600x1200" },
    "restore-count": { type: "string", default: "12" },
    "restore-size": { type: "string", default: "256x192" },
    concurrency: { type: "string", default: "1,2,4" },
    "triage-concurrency": { type: "string", default: "16" },
    model: { type: "string" },
  },
});
const size = (text: string) => text.split("x").map(Number) as [number, number];
const modelDir = values.model ?? shippedModelDir();
const stack = await startTestStack({ env: { UNJPEG_MODEL_DIR: modelDir } });
const deriver = await testDeriver(stack);

// Count every S3 request the derive core makes, by operation.
const requests = new Map<string, number>();
deriver.s3.middlewareStack.add(
  (next, context) => async (args) => {
    const name = context.commandName ?? "unknown";
    requests.set(name, (requests.get(name) ?? 0) + 1);
    return next(args);
  },
  { step: "initialize", name: "benchCountRequests" },
);

async function upload(prefix: string, count: number, quality: number, [w, h]: [number, number]) {
  const variants = await Promise.all([1, 2, 3, 4].map((seed) => makeJpeg(quality, w, h, seed)));
  await forEachConcurrent(
    Array.from({ length: count }, (_, i) => i),
    16,
    async (i) =>
      void (await putBytes(stack.s3, `${prefix}${String(i).padStart(6, "0")}.jpg`, variants[i % 4]!)),
  );
  return variants[0]!.byteLength;
}

async function backfill(core: Deriver, prefix: string, concurrency: number): Promise<BackfillReport> {
  const objects: ListedObject[] = [];
  for await (const object of listObjects(stack.s3, { bucket: BUCKET, prefix })) objects.push(object);
  requests.clear();
  return runBackfill({
    source: prefix,
    objects,
    journal: memoryJournal(),
    concurrency,
    process: (object, signal) => deriveListedObject(core, object, signal),
  });
}

interface Row {
  readonly path: string;
  readonly concurrency: number;
  readonly objects: number;
  readonly wallS: number;
  readonly perS: number;
  readonly requestsPerObject: string;
  readonly bytesPerObject: number;
}
const rows: Row[] = [];
const requestSummary = (n: number) =>
  [...requests]
    .map(([name, count]) => `${(count / n).toFixed(2)} ${name.replace(/Command$/, "")}`)
    .join(", ");

const skipCount = Number(values["skip-count"]);
const objectBytes = await upload("skip/", skipCount, 95, size(values["skip-size"]));
const triageConcurrency = Number(values["triage-concurrency"]);
const triage = await backfill(deriver, "skip/", triageConcurrency);
if (triage.run.skipped !== skipCount)
  throw new Error(`triage: expected ${skipCount} skips, got ${JSON.stringify(triage.run)}`);
rows.push({
  path: `triage only (skip), ${objectBytes} B objects`,
  concurrency: triageConcurrency,
  objects: skipCount,
  wallS: triage.wallSeconds,
  perS: skipCount / triage.wallSeconds,
  requestsPerObject: requestSummary(skipCount),
  bytesPerObject: triage.run.bytesRead / skipCount,
});

const restoreCount = Number(values["restore-count"]);
// Warm the model (sessions are created once per process) before timing.
await upload("warm/", 1, 20, size(values["restore-size"]));
await backfill(deriver, "warm/", 1);
for (const concurrency of values.concurrency.split(",").map(Number)) {
  const prefix = `restore-c${concurrency}/`;
  await upload(prefix, restoreCount, 20, size(values["restore-size"]));
  const report = await backfill(deriver, prefix, concurrency);
  if (report.run.restored !== restoreCount) throw new Error(`restore: ${JSON.stringify(report.run)}`);
  rows.push({
    path: `restore ${values["restore-size"]} q20`,
    concurrency,
    objects: restoreCount,
    wallS: report.wallSeconds,
    perS: restoreCount / report.wallSeconds,
    requestsPerObject: requestSummary(restoreCount),
    bytesPerObject: report.run.bytesRead / restoreCount,
  });
}
await stack.close();

console.log(`model ${deriver.model}; s3rver on loopback; ${new Date().toISOString()}`);
console.log(
  "| path | concurrency | objects | wall s | objects/s | S3 requests per object | bytes read per object |",
);
console.log("|---|---:|---:|---:|---:|---|---:|");
for (const row of rows) {
  console.log(
    `| ${row.path} | ${row.concurrency} | ${row.objects} | ${row.wallS.toFixed(2)} | ${row.perS.toFixed(1)} | ${row.requestsPerObject} | ${Math.round(row.bytesPerObject)} |`,
  );
}
