/**
 * How fast `restore()` runs and how much memory it takes, at 1, 4 and 12 MP, with the time split by step.
 * Each size runs in its own child process, so its peak RSS is its own; every child first restores the same
 * image `--warmup N` times (default 3: session creation, JIT warm-up, onnxruntime's first run at each tile
 * shape, the heap growing to what a restore of this size needs), then restores it `--runs N` times
 * (default 3) and reports the run of median wall time (speed, memory, steps), and the median of the runs'
 * own shares of time outside model runs, with their range: the steady state of a warm container. `--cold`
 * warms up once on a small image instead: the first restore of this size in a process. `--also-quality Q2`
 * restores the image at Q2 once more after the warm-up: with a model whose band covers one of the two
 * qualities (manifest `bands`), both weight sets are then loaded in the process, as in a long-lived one.
 * Targets (issue 4, 2 cores): ≥ 1 MP/s with the shipped model; 12 MP peak RSS ≤ 1.5 GB; per-MP time at
 * 12 MP within 1.3× of 1 MP; everything that is not a model run ≤ 15 % of the model runs' time. "Not a
 * model run" is the whole restore's time less its model runs (decode, tensors, x0, blend, encode, and any
 * gap between steps), so nothing escapes it. Run with nothing else on the cores. Issue 16's speed target
 * (12 MP ≥ 1.0 MP/s per 100 GFLOP/s) is against bench/conv-throughput.ts's yardstick, measured by the
 * parent right after each size's restores (the machines' speed swings 2×: the ratio is what compares).
 * The model runs where restore() puts it by default (lib/model/sessions.ts defaultInWorker: the model worker
 * when onnxruntime's threads leave a core free, else the calling thread); `--in-worker` / `--in-thread`
 * force one, to compare. The children run as Lambda and the installed command do: compiled JavaScript
 * (tsconfig.bench.json builds this script and lib/ into .bench-out/build first, a few seconds), plain
 * node, glibc's allocator tuned (lib/allocator.ts). `--tsx` runs them from the TypeScript sources under
 * tsx instead, as `npm run unjpeg` does (its loader costs ~3 points of the 1 MP share); `GLIBC_TUNABLES=
 * node ...` measures glibc's defaults.
 * Encoding: `--format jpeg|webp|avif|png` (default jpeg) restores to that format with `--quality auto` (or
 * `--quality-out N`; `--trellis` as UNJPEG_TRELLIS); the tables give the encoder setting chosen (`unjpeg-encode`) and what choosing and
 * encoding cost (steps `search` and `encode`) as a share of the whole restore, wall and CPU. Target (issue
 * 20): at most 15 % at 1 and 12 MP for JPEG, WebP and the AVIF that format=auto chooses.
 * The quantization-constraint projection (issue 15: ≤ 5 % of a restore at 1 and 12 MP) gets its own table:
 * its step's share of the restore's wall and CPU time (median of the runs), and with the coefficient decode
 * that overlaps the model runs (`coefficients`) added as if it did not; `--no-projection` restores without
 * both, to compare peak RSS and totals.
 * In the worker, a model run's CPU time is that of the worker's thread and
 * onnxruntime's (Linux /proc); the rest of the process's (this thread's steps, decoding and encoding,
 * garbage collection, messages) is not a model run, and steps here that overlap model runs count this
 * thread's CPU only.
 *   node --import tsx bench/restore.ts [--model DIR] [--sizes 1,4,12] [--runs N] [--warmup N] [--threads N] [--image PHOTO] [--quality Q] [--also-quality Q2] [--format F] [--quality-out auto|N] [--trellis] [--cold] [--tsx] [--in-thread | --in-worker] [--no-projection]
 */
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import sharp, { type Sharp } from "sharp";
import { tunedEnvironment } from "../lib/allocator.js";
import type { OutputFormat } from "../lib/config.js";
import { shippedModelDir } from "../lib/model/default-model.js";
import { defaultInWorker } from "../lib/model/sessions.js";
import { restore } from "../lib/restore/restore.js";
import type { RestoreDescription } from "../lib/restore/types.js";
import { convGflops } from "./conv-throughput.js";

const { values } = parseArgs({
  options: {
    model: { type: "string" },
    sizes: { type: "string", default: "1,4,12" },
    threads: { type: "string" },
    image: { type: "string" },
    quality: { type: "string", default: "20" },
    format: { type: "string", default: "jpeg" },
    "quality-out": { type: "string", default: "auto" },
    trellis: { type: "boolean", default: false },
    runs: { type: "string", default: "3" },
    warmup: { type: "string", default: "3" },
    "also-quality": { type: "string" },
    child: { type: "string" },
    cold: { type: "boolean" },
    tsx: { type: "boolean" },
    "in-thread": { type: "boolean" },
    "in-worker": { type: "boolean" },
    "no-projection": { type: "boolean" },
    help: { type: "boolean" },
  },
});

if (values.help === true) {
  process.stdout.write(
    "node --import tsx bench/restore.ts [--model DIR] [--sizes 1,4,12] [--runs N] [--warmup N] [--threads N] [--image PHOTO] [--quality Q] [--also-quality Q2] [--format F] [--quality-out auto|N] [--trellis] [--cold] [--tsx] [--in-thread | --in-worker] [--no-projection]\n" +
      "Restores a JPEG of each size (MP) in its own process, --warmup times to warm up and N times timed (the median run);\n" +
      "prints MP/s, CPU time, peak RSS, page faults, model vs non-model time (wall and CPU) and the time per step. Compare\n" +
      "CPU columns when other work shares the cores.\n",
  );
  process.exit(0);
}

const MODEL_STEPS = ["cave", "encoder", "unet", "decoder"];
const OTHER_STEPS = [
  "inspect",
  "decode",
  "coefficients",
  "tensors",
  "x0",
  "blend",
  "colorFix",
  "projection",
  "search",
  "encode",
];
const PROJECTION_STEPS = ["projection", "coefficients"];
/** Choosing the encoder setting and encoding: what the encode target (15 % of the restore) counts. */
const ENCODE_STEPS = ["search", "encode"];

/** A 4:3 test picture of `mp` megapixels: a photo resized, or synthetic edges, gradients and texture. */
async function sourceJpeg(
  mp: number,
  quality: number,
): Promise<{ bytes: Buffer; width: number; height: number }> {
  const width = Math.round(Math.sqrt((mp * 1e6 * 4) / 3));
  const height = Math.round((width * 3) / 4);
  let image: Sharp;
  if (values.image !== undefined) {
    image = sharp(values.image).rotate().resize(width, height, { fit: "cover" });
  } else {
    const px = Buffer.alloc(width * height * 3);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = (y * width + x) * 3;
        const check = ((x >> 6) + (y >> 6)) & 1;
        px[i] = (x * 255) / width;
        px[i + 1] = check ? 200 : 60;
        px[i + 2] = 128 + 90 * Math.sin(x / 9) * Math.cos(y / 13);
      }
    }
    image = sharp(px, { raw: { width, height, channels: 3 } });
  }
  return { bytes: await image.jpeg({ quality }).toBuffer(), width, height };
}

async function child(mp: number): Promise<void> {
  const options = {
    modelDir: values.model ?? shippedModelDir(),
    threads: values.threads === undefined ? undefined : Number(values.threads),
    force: true,
    modelInWorker: values["in-worker"] === true ? true : values["in-thread"] === true ? false : undefined,
    format: values.format as OutputFormat,
    quality: values["quality-out"] === "auto" ? ("auto" as const) : Number(values["quality-out"]),
    projection: values["no-projection"] !== true,
    trellis: values.trellis === true,
  };
  const quality = Number(values.quality);
  const { bytes, width, height } = await sourceJpeg(mp, quality);
  if (values.cold === true) await restore((await sourceJpeg(0.05, quality)).bytes, options);
  else for (let k = 0; k < Math.max(1, Number(values.warmup)); k++) await restore(bytes, options);
  // The same size at another quality first (a band's: both weight sets loaded, as in a long-lived process).
  if (values["also-quality"] !== undefined)
    await restore((await sourceJpeg(mp, Number(values["also-quality"]))).bytes, options);
  const runs: {
    totalMs: number;
    cpuMs: number;
    pageFaults: number;
    timings: Record<string, number>;
    cpu: Record<string, number>;
  }[] = [];
  let description: RestoreDescription | undefined;
  for (let k = 0; k < Math.max(1, Number(values.runs)); k++) {
    const cpuBefore = process.cpuUsage();
    const faultsBefore = process.resourceUsage().minorPageFault;
    const outcome = await restore(bytes, options);
    const cpu = process.cpuUsage(cpuBefore);
    const pageFaults = process.resourceUsage().minorPageFault - faultsBefore;
    if (outcome.action !== "restored") throw new Error(`not restored: ${outcome.reason}`);
    description = outcome.description;
    runs.push({
      totalMs: description.totalMs - (description.timings["load"] ?? 0),
      cpuMs: (cpu.user + cpu.system) / 1000,
      pageFaults,
      timings: { ...description.timings },
      cpu: { ...description.cpuTimings },
    });
  }
  const d = description!;
  // The run of median wall time, whole: its steps add up, as medians taken step by step would not.
  const run = [...runs].sort((a, b) => a.totalMs - b.totalMs)[runs.length >> 1]!;
  // Each run's time outside model runs as a share of its model runs' time (wall and CPU), for medians.
  const share = (total: number, ms: Record<string, number>) =>
    (100 * (total - sumOf(ms, MODEL_STEPS))) / sumOf(ms, MODEL_STEPS);
  const shares = {
    wall: runs.map((r) => share(r.totalMs, r.timings)),
    cpu: runs.map((r) => share(r.cpuMs, r.cpu)),
    // The projection's step, then with the coefficient decode, as a share of the whole restore.
    projectionWall: runs.map((r) => (100 * (r.timings["projection"] ?? 0)) / r.totalMs),
    projectionCpu: runs.map((r) => (100 * (r.cpu["projection"] ?? 0)) / r.cpuMs),
    withDecodeWall: runs.map((r) => (100 * sumOf(r.timings, PROJECTION_STEPS)) / r.totalMs),
    withDecodeCpu: runs.map((r) => (100 * sumOf(r.cpu, PROJECTION_STEPS)) / r.cpuMs),
  };
  process.stdout.write(
    `${JSON.stringify({
      mp: (width * height) / 1e6,
      width,
      height,
      runs: runs.length,
      totalMs: run.totalMs,
      timings: run.timings,
      cpuTimings: run.cpu,
      peakRssMiB: (process.resourceUsage().maxRSS * 1024) / 2 ** 20,
      cpuMs: run.cpuMs,
      pageFaults: run.pageFaults,
      tiles: d.run?.tiles,
      cave: d.run?.cave,
      threads: d.run?.threads,
      model: d.model,
      outputBytes: d.outputBytes,
      encoding: d.encoding,
      projection: d.projection,
      shares,
    })}\n`,
  );
}

interface Row {
  mp: number;
  width: number;
  height: number;
  totalMs: number;
  timings: Record<string, number>;
  cpuTimings: Record<string, number>;
  peakRssMiB: number;
  cpuMs: number;
  pageFaults: number;
  tiles: number;
  cave: string;
  threads: number;
  model: string;
  runs: number;
  outputBytes: number;
  encoding: string;
  projection?: RestoreDescription["projection"];
  shares: {
    wall: number[];
    cpu: number[];
    projectionWall: number[];
    projectionCpu: number[];
    withDecodeWall: number[];
    withDecodeCpu: number[];
  };
}

/** Milliseconds of `steps` in a timings record (steps that did not run count 0). */
function sumOf(ms: Record<string, number>, steps: readonly string[]): number {
  return steps.reduce((n, step) => n + (ms[step] ?? 0), 0);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function table(header: string[], lines: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i]!)).join("  ");
  return [fmt(header), ...lines.map(fmt)].join("\n");
}

function where(threads: number): string {
  const inWorker = values["in-worker"] === true || (values["in-thread"] !== true && defaultInWorker(threads));
  return inWorker ? "model worker" : "calling thread";
}

// The children run as the CLI and Lambda do: with glibc's allocator tuned, unless GLIBC_TUNABLES is set.
const childEnv = tunedEnvironment(process.env) ?? process.env;

/** Node arguments that run this script as a child: compiled (built now, from the current sources) or under tsx. */
function childScript(): string[] {
  if (values.tsx === true) return [...process.execArgv, process.argv[1]!];
  const root = join(import.meta.dirname, "..");
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  execFileSync(process.execPath, [tsc, "-p", join(root, "tsconfig.bench.json")], { stdio: "inherit" });
  return [join(root, ".bench-out/build/bench/restore.js")];
}

async function main(): Promise<void> {
  const sizes = values.sizes.split(",").map(Number);
  const rows: Row[] = [];
  // The yardstick right after each size's restores, with their threads: the machine's speed of that moment.
  const yardstick: number[] = [];
  const script = childScript();
  for (const mp of sizes) {
    const args = [...script, "--child", String(mp), "--quality", values.quality];
    args.push("--format", values.format, "--quality-out", values["quality-out"]);
    if (values.trellis === true) args.push("--trellis");
    args.push("--runs", values.runs, "--warmup", values.warmup);
    if (values.model !== undefined) args.push("--model", values.model);
    if (values.threads !== undefined) args.push("--threads", values.threads);
    if (values.image !== undefined) args.push("--image", values.image);
    if (values.cold === true) args.push("--cold");
    if (values["also-quality"] !== undefined) args.push("--also-quality", values["also-quality"]);
    if (values["in-thread"] === true) args.push("--in-thread");
    if (values["in-worker"] === true) args.push("--in-worker");
    if (values["no-projection"] === true) args.push("--no-projection");
    const out = execFileSync(process.execPath, args, { encoding: "utf8", maxBuffer: 1 << 20, env: childEnv });
    const row = JSON.parse(out.trim().split("\n").at(-1)!) as Row;
    rows.push(row);
    yardstick.push(await convGflops(row.threads));
  }
  const wall = (r: Row, step: string) => r.timings[step] ?? 0;
  const cpu = (r: Row, step: string) => r.cpuTimings[step] ?? 0;
  // Not a model run: the whole restore less its model runs (the named steps, and any time between them).
  const nonModelWall = (r: Row) => r.totalMs - sumOf(r.timings, MODEL_STEPS);
  const nonModelCpu = (r: Row) => r.cpuMs - sumOf(r.cpuTimings, MODEL_STEPS);
  // CPU time says what the work costs when other processes share the cores (wall time then overstates it).
  const summary = table(
    [
      "size",
      "MP",
      "tiles",
      "wall s",
      "MP/s",
      "CPU s",
      "MP/CPU-s",
      "peak RSS MiB",
      "page faults",
      "output KiB",
      "model wall s",
      "other wall s",
      "other/model wall % (runs: median, range)",
      "other/model CPU % (median)",
    ],
    rows.map((r) => [
      `${r.width}×${r.height}`,
      r.mp.toFixed(2),
      String(r.tiles),
      (r.totalMs / 1000).toFixed(2),
      (r.mp / (r.totalMs / 1000)).toFixed(3),
      (r.cpuMs / 1000).toFixed(2),
      (r.mp / (r.cpuMs / 1000)).toFixed(3),
      r.peakRssMiB.toFixed(0),
      String(r.pageFaults),
      (r.outputBytes / 1024).toFixed(0),
      (sumOf(r.timings, MODEL_STEPS) / 1000).toFixed(2),
      (nonModelWall(r) / 1000).toFixed(2),
      `${median(r.shares.wall).toFixed(1)} (${Math.min(...r.shares.wall).toFixed(1)}–${Math.max(...r.shares.wall).toFixed(1)})`,
      median(r.shares.cpu).toFixed(1),
    ]),
  );
  const steps = [...MODEL_STEPS, ...OTHER_STEPS];
  const perStep = table(
    ["size", ...steps.map((s) => `${s} ms`), "between ms"],
    rows.map((r) => [
      `${r.width}×${r.height}`,
      ...steps.map((s) => `${wall(r, s).toFixed(0)}/${cpu(r, s).toFixed(0)}`),
      `${(nonModelWall(r) - sumOf(r.timings, OTHER_STEPS)).toFixed(0)}/${(nonModelCpu(r) - sumOf(r.cpuTimings, OTHER_STEPS)).toFixed(0)}`,
    ]),
  );
  // The encode target: choosing the setting and encoding, against the whole restore (wall and CPU).
  const encodeShare = table(
    ["size", "encoding", "search ms", "encode ms", "encode % of restore wall", "encode % of restore CPU"],
    rows.map((r) => [
      `${r.width}×${r.height}`,
      r.encoding,
      `${wall(r, "search").toFixed(0)}/${cpu(r, "search").toFixed(0)}`,
      `${wall(r, "encode").toFixed(0)}/${cpu(r, "encode").toFixed(0)}`,
      ((100 * sumOf(r.timings, ENCODE_STEPS)) / r.totalMs).toFixed(1),
      ((100 * sumOf(r.cpuTimings, ENCODE_STEPS)) / r.cpuMs).toFixed(1),
    ]),
  );
  const first = rows[0]!;
  process.stdout.write(
    `restore() with ${first.model}, ${first.threads} threads on ${availableParallelism()} cores, model in the ${where(first.threads)}, CaVE ${rows.map((r) => r.cave).join("/")}, ${values.tsx === true ? "TypeScript sources under tsx" : "compiled"}, ${values.cold === true ? "cold (one warm-up restore of 0.05 MP)" : `after ${values.warmup} warm-up restore(s)`}, the median of ${first.runs} timed run(s), GLIBC_TUNABLES ${childEnv["GLIBC_TUNABLES"] ? childEnv["GLIBC_TUNABLES"] : "unset (glibc's defaults)"}\n`,
  );
  process.stdout.write(
    `${summary}\ntime per step, wall/CPU ms; model runs: ${MODEL_STEPS.join(", ")}; the rest is not a model run ("between": time outside named steps):\n${perStep}\n` +
      `encoding (${values.format}, quality ${values["quality-out"]}): the setting chosen, and choosing plus encoding as a share of the restore (target ≤ 15 %), wall/CPU ms:\n${encodeShare}\n`,
  );
  const range = (v: number[]) =>
    `${median(v).toFixed(1)} (${Math.min(...v).toFixed(1)}–${Math.max(...v).toFixed(1)})`;
  const projection = table(
    [
      "size",
      "projection",
      "clipped %",
      "projection ms wall/CPU",
      "coefficients ms wall/CPU",
      "projection % of restore, wall (runs)",
      "CPU",
      "with the decode % wall (runs)",
      "CPU",
    ],
    rows.map((r) => [
      `${r.width}×${r.height}`,
      r.projection === undefined ? "-" : r.projection.applied ? "applied" : r.projection.reason,
      r.projection?.applied === true ? (100 * r.projection.clipped).toFixed(2) : "-",
      `${wall(r, "projection").toFixed(0)}/${cpu(r, "projection").toFixed(0)}`,
      `${wall(r, "coefficients").toFixed(0)}/${cpu(r, "coefficients").toFixed(0)}`,
      range(r.shares.projectionWall),
      median(r.shares.projectionCpu).toFixed(1),
      range(r.shares.withDecodeWall),
      median(r.shares.withDecodeCpu).toFixed(1),
    ]),
  );
  process.stdout.write(
    `the projection (its step; "with the decode": and the coefficient decode, which overlaps the model runs, as if it did not):\n${projection}\n`,
  );
  const speed = table(
    ["size", "MP/s", "yardstick GFLOP/s", "MP/s per 100 GFLOP/s"],
    rows.map((r, k) => [
      `${r.width}×${r.height}`,
      (r.mp / (r.totalMs / 1000)).toFixed(3),
      yardstick[k]!.toFixed(1),
      ((r.mp / (r.totalMs / 1000)) * (100 / yardstick[k]!)).toFixed(2),
    ]),
  );
  process.stdout.write(
    `speed against the yardstick (bench/conv-throughput.ts: a 64→64 3×3 convolution through the same onnxruntime, ${first.threads} threads, measured right after each size's restores):\n${speed}\n`,
  );
  if (rows.length > 1) {
    const perMp = (r: Row) => r.totalMs / r.mp;
    const last = rows.at(-1)!;
    process.stdout.write(
      `per-MP time at ${last.mp.toFixed(1)} MP / at ${first.mp.toFixed(1)} MP: wall ${(perMp(last) / perMp(first)).toFixed(2)}×, CPU ${(last.cpuMs / last.mp / (first.cpuMs / first.mp)).toFixed(2)}×\n`,
    );
  }
}

if (values.child !== undefined) await child(Number(values.child));
else await main();
