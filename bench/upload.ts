/**
 * Restore on upload through the local stack (a real s3rver, its events delivered to the upload handler):
 * N uploads at once, a fraction of them low quality. Reports throughput, and the handler's overhead over
 * the restore itself (S3 reads and writes, triage, HEADs), against a baseline of the same images restored
 * directly with restore(). Prints one table.
 *
 *   npx tsx bench/upload.ts [--count 200] [--low 0.2] [--size 256x192] [--concurrency 1,2,4] [--model DIR]
 *
 * With --large MB instead: large transfers (a source over the limit refused, a large derivative written in
 * parts): time and peak RSS per case, in bench/upload-large.ts.
 *
 *   npx tsx bench/upload.ts --large 256 [--limit 50]
 */
import { parseArgs } from "node:util";
import { createUploadHandler } from "../handlers/s3-upload.js";
import { restore } from "../lib/restore/restore.js";
import type { Deriver } from "../lib/storage/derive.js";
import type { Decision } from "../lib/storage/report.js";
import {
  makeJpeg,
  putBytes,
  startTestStack,
  TEST_MODEL_DIR,
  testDeriver,
} from "../tests/integration/upload-helpers.js";

const { values } = parseArgs({
  options: {
    count: { type: "string", default: "200" },
    low: { type: "string", default: "0.2" },
    size: { type: "string", default: "256x192" },
    concurrency: { type: "string", default: "1,2,4" },
    serial: { type: "boolean", default: true },
    model: { type: "string", default: TEST_MODEL_DIR },
    large: { type: "string" },
    limit: { type: "string", default: "50" },
  },
});
if (values.large !== undefined) {
  const { runLargeBench } = await import("./upload-large.js");
  await runLargeBench(Number(values.large), Number(values.limit));
  process.exit(0);
}
const count = Number(values.count);
const lowEvery = Math.max(1, Math.round(1 / Number(values.low)));
const [width, height] = values.size.split("x").map(Number) as [number, number];
const levels = values.concurrency.split(",").map(Number);

const images = await Promise.all(
  Array.from({ length: count }, async (_, i) => {
    const low = i % lowEvery === 0;
    return { low, bytes: await makeJpeg(low ? 10 + (i % 30) : 92 + (i % 7), width, height, i + 1) };
  }),
);
const lows = images.filter((image) => image.low);

// Baseline: the same low-quality images restored directly, one at a time, after a warm-up.
await restore(lows[0]!.bytes, { modelDir: values.model });
let pureMs = 0;
for (const image of lows) {
  const started = performance.now();
  const outcome = await restore(image.bytes, { modelDir: values.model });
  if (outcome.action !== "restored") throw new Error(`baseline: ${outcome.action}`);
  pureMs += performance.now() - started;
}
const pureMeanMs = pureMs / lows.length;

interface Row {
  mode: string;
  concurrency: number;
  wallS: number;
  objectsPerS: number;
  restoresPerS: number;
  restoreMean: number;
  writtenMean: number;
  overheadMs: number;
  overheadPct: number;
  skipMean: number;
  skipBytes: number;
  failed: number;
}

const rows: Row[] = [];
const runs: { mode: "burst" | "serial"; concurrency: number }[] = [
  ...levels.map((concurrency) => ({ mode: "burst" as const, concurrency })),
  ...(values.serial ? [{ mode: "serial" as const, concurrency: 1 }] : []),
];
for (const { mode, concurrency } of runs) {
  const decisions: Decision[] = [];
  let deriver: Deriver | undefined;
  const handler = createUploadHandler(async () => deriver!, { sink: (_line, d) => decisions.push(d) });
  const stack = await startTestStack({
    handler: (event) => handler(event, {} as never),
    concurrency,
    env: { UNJPEG_MODEL_DIR: values.model },
  });
  try {
    deriver = await testDeriver(stack);
    await deriver.restore(lows[0]!.bytes, { modelDir: values.model }); // warm sessions, as a warm Lambda
    const started = performance.now();
    if (mode === "burst") {
      await Promise.all(images.map((image, i) => putBytes(stack.s3, `bench/${i}.jpg`, image.bytes)));
      await stack.local.idle();
    } else {
      // One upload at a time: the handler's own cost, without other uploads queueing at the same S3.
      for (const [i, image] of images.entries()) {
        await putBytes(stack.s3, `bench/${i}.jpg`, image.bytes);
        await stack.local.idle();
      }
    }
    const wallS = (performance.now() - started) / 1000;
    const sources = decisions.filter((d) => d.reason !== "derivative");
    const written = sources.filter((d) => d.action === "written");
    const skipped = sources.filter((d) => d.action === "skipped");
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const restoreMean = mean(written.map((d) => Number(d["restoreWallMs"] ?? 0)));
    const writtenMean = mean(written.map((d) => d.ms ?? 0));
    rows.push({
      mode,
      concurrency,
      wallS,
      objectsPerS: count / wallS,
      restoresPerS: written.length / wallS,
      restoreMean,
      writtenMean,
      overheadMs: writtenMean - restoreMean,
      overheadPct: (100 * (writtenMean - restoreMean)) / restoreMean,
      skipMean: mean(skipped.map((d) => d.ms ?? 0)),
      skipBytes: mean(skipped.map((d) => d.bytesRead ?? 0)),
      failed:
        decisions.filter((d) => d.action === "failed").length + (written.length === lows.length ? 0 : 1),
    });
  } finally {
    await stack.close();
  }
}

const f = (x: number, digits = 0) => x.toFixed(digits);
process.stdout.write(
  [
    `upload bench: ${count} uploads at once, ${lows.length} low quality, ${width}x${height}, model ${values.model}`,
    `pure restore() baseline: ${f(pureMeanMs)} ms per image (sequential, warm)`,
    "",
    "| uploads | conc | wall s | objects/s | restores/s | restore ms | handler ms (written) | overhead ms | overhead % | skip ms | bytes/skip | failures |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...rows.map(
      (r) =>
        `| ${r.mode} | ${r.concurrency} | ${f(r.wallS, 1)} | ${f(r.objectsPerS, 1)} | ${f(r.restoresPerS, 2)} | ${f(r.restoreMean)} | ${f(r.writtenMean)} | ${f(r.overheadMs)} | ${f(r.overheadPct, 1)} | ${f(r.skipMean, 1)} | ${f(r.skipBytes)} | ${r.failed} |`,
    ),
    "",
    "restore ms: wall time of restore() inside the handler; handler ms: the whole decision (HEADs, ranged GETs, restore, PUT);",
    "overhead = handler ms - restore ms. burst: all uploads at once (S3 and handlers contend; with concurrency > 1",
    "restores share the cores); serial: one upload at a time, the handler's own cost.",
    "",
  ].join("\n"),
);
