/**
 * How fast `decodeCoefficients` reads a JPEG's quantized DCT coefficients, against sharp (libjpeg-turbo
 * through libvips) decoding the same file to raw pixels, one thread each, alternating in the same run.
 * Issue 15's goal: the coefficient decode takes no longer than sharp's decode to pixels, at 1 and 12 MP,
 * QF 10 and 90. The pictures are mosaics of camera photos at their native scale (no upscaling, so their
 * fine detail is the camera's), from --photos (default: the RealSR validation set in /work/shared).
 *   node --expose-gc --import tsx bench/coefficients.ts [--sizes 1,12] [--qualities 10,90] [--runs 15] [--photos DIR] [--progressive] [--chroma 4:2:0|4:4:4] [--keep DIR]
 * (--keep: write the JPEGs into DIR)
 */
import { readdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import sharp, { type OverlayOptions } from "sharp";
import { decodeCoefficients, releaseCoefficients } from "../lib/jpeg/index.js";

const { values } = parseArgs({
  options: {
    sizes: { type: "string", default: "1,12" },
    qualities: { type: "string", default: "10,90" },
    runs: { type: "string", default: "15" },
    photos: { type: "string", default: "/work/shared/data/train/RealSR_NTIRE19_valGT" },
    progressive: { type: "boolean", default: false },
    chroma: { type: "string", default: "4:2:0" },
    keep: { type: "string" },
  },
});
const SIZES = values.sizes.split(",").map(Number);
const QUALITIES = values.qualities.split(",").map(Number);
const RUNS = Number(values.runs);
sharp.concurrency(1);
sharp.cache(false);

/** A 4:3 picture of `mp` megapixels: photos tiled left to right, top to bottom, each cropped, not scaled. */
async function mosaic(mp: number): Promise<{ pixels: Buffer; width: number; height: number }> {
  const width = Math.round(Math.sqrt((mp * 1e6 * 4) / 3) / 16) * 16;
  const height = Math.round((width * 3) / 4 / 16) * 16;
  const files = readdirSync(values.photos)
    .filter((f) => /\.(png|jpe?g)$/i.test(f))
    .sort();
  if (files.length === 0) throw new Error(`no photos in ${values.photos}`);
  const tiles: OverlayOptions[] = [];
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  for (let i = 0; y < height; i++) {
    const photo = join(values.photos, files[i % files.length]!);
    const meta = await sharp(photo).metadata();
    const w = Math.min(meta.width!, width - x);
    const h = Math.min(meta.height!, height - y);
    const input = await sharp(photo)
      .extract({ left: 0, top: 0, width: w, height: h })
      .removeAlpha()
      .toBuffer();
    tiles.push({ input, left: x, top: y });
    rowHeight = Math.max(rowHeight, h);
    x += w;
    if (x >= width) {
      x = 0;
      y += rowHeight;
      rowHeight = 0;
    }
  }
  const pixels = await sharp({ create: { width, height, channels: 3, background: "#808080" } })
    .composite(tiles)
    .raw()
    .toBuffer();
  return { pixels, width, height };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
// With --expose-gc, garbage is collected before every timed run (of both), so that each finds the
// allocator as a long-running process would, not holding the last runs' 36 MB outputs.
const collect = (globalThis as { gc?: () => void }).gc ?? (() => {});

interface Timing {
  wall: number;
  cpu: number;
}

/** Wall time and the process's CPU time (all threads: sharp decodes on a libuv thread). */
async function timed(run: () => unknown): Promise<Timing> {
  collect();
  const cpu = process.cpuUsage();
  const started = performance.now();
  await run();
  const wall = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return { wall, cpu: (used.user + used.system) / 1000 };
}

const rows: string[][] = [];
for (const mp of SIZES) {
  const { pixels, width, height } = await mosaic(mp);
  for (const quality of QUALITIES) {
    const bytes = await sharp(pixels, { raw: { width, height, channels: 3 } })
      .jpeg({ quality, progressive: values.progressive, chromaSubsampling: values.chroma })
      .toBuffer();
    if (values.keep !== undefined) writeFileSync(join(values.keep, `mosaic-${mp}mp-q${quality}.jpg`), bytes);
    // Given back after each run, as restore() does once the projection is done: the next decode reuses the
    // storage instead of faulting in fresh pages (sharp's output comes from glibc's heap, which the
    // project's allocator settings keep: run with GLIBC_TUNABLES from lib/allocator.ts).
    const ours = (): unknown => releaseCoefficients(decodeCoefficients(bytes, { maxPixels: 1e9 }));
    const theirs = (): Promise<unknown> => sharp(bytes).raw().toBuffer();
    // Warm up both (JIT, libvips' first call) for 5 runs and a second at least, then alternate so that
    // load changes hit both alike.
    const warmUntil = performance.now() + 1000;
    for (let i = 0; i < 5 || performance.now() < warmUntil; i++) {
      await timed(ours);
      await timed(theirs);
    }
    const a: Timing[] = [];
    const b: Timing[] = [];
    for (let i = 0; i < RUNS; i++) {
      a.push(await timed(ours));
      b.push(await timed(theirs));
    }
    const [aWall, bWall] = [median(a.map((t) => t.wall)), median(b.map((t) => t.wall))];
    const [aMin, bMin] = [Math.min(...a.map((t) => t.wall)), Math.min(...b.map((t) => t.wall))];
    const [aCpu, bCpu] = [median(a.map((t) => t.cpu)), median(b.map((t) => t.cpu))];
    rows.push([
      `${width}×${height}`,
      String(quality),
      (bytes.length / 1024).toFixed(0),
      `${aWall.toFixed(1)} / ${aMin.toFixed(1)}`,
      `${bWall.toFixed(1)} / ${bMin.toFixed(1)}`,
      `${(aWall / bWall).toFixed(2)} / ${(aMin / bMin).toFixed(2)}`,
      `${aCpu.toFixed(1)} / ${bCpu.toFixed(1)}`,
      (aCpu / bCpu).toFixed(2),
    ]);
  }
}

const header = [
  "image",
  "QF",
  "KiB",
  "coefficients ms (median / min)",
  "sharp ms (median / min)",
  "ratio (median / min)",
  "CPU ms coefficients / sharp",
  "CPU ratio",
];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padStart(widths[i]!)).join(" | ")} |`;
const mode = `${values.progressive ? "progressive" : "baseline"} ${values.chroma}`;
const gcNote = (globalThis as { gc?: unknown }).gc === undefined ? "no --expose-gc" : "gc before each run";
console.log(
  `decodeCoefficients vs sharp(buf).raw().toBuffer() (sharp.concurrency(1)), ${mode}, medians of ${RUNS} alternating runs (${gcNote}); load average ${loadavg()[0]!.toFixed(2)}; ratio < 1: the coefficients are faster`,
);
console.log(line(header));
console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
for (const row of rows) console.log(line(row));
