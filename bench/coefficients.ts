/**
 * How fast `decodeCoefficients` reads a JPEG's quantized DCT coefficients, against sharp (libjpeg-turbo
 * through libvips) decoding the same file to raw pixels, one thread each, alternating in the same run.
 * Issue 15's goal: the coefficient decode takes no longer than sharp's decode to pixels, at 1 and 12 MP,
 * QF 10 and 90. The pictures are mosaics of camera photos at their native scale (no upscaling, so their
 * fine detail is the camera's), from --photos (default: the RealSR validation set in /work/shared).
 *   node --import tsx bench/coefficients.ts [--sizes 1,12] [--qualities 10,90] [--runs 7] [--photos DIR] [--progressive] [--chroma 4:2:0|4:4:4] [--keep DIR]
 * (--keep: write the JPEGs into DIR)
 */
import { readdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import sharp, { type OverlayOptions } from "sharp";
import { decodeCoefficients } from "../lib/jpeg/index.js";

const { values } = parseArgs({
  options: {
    sizes: { type: "string", default: "1,12" },
    qualities: { type: "string", default: "10,90" },
    runs: { type: "string", default: "7" },
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

async function timeSharp(bytes: Buffer): Promise<number> {
  const started = performance.now();
  await sharp(bytes).raw().toBuffer();
  return performance.now() - started;
}

function timeCoefficients(bytes: Buffer): number {
  const started = performance.now();
  decodeCoefficients(bytes, { maxPixels: 1e9 });
  return performance.now() - started;
}

const rows: string[][] = [];
for (const mp of SIZES) {
  const { pixels, width, height } = await mosaic(mp);
  for (const quality of QUALITIES) {
    const bytes = await sharp(pixels, { raw: { width, height, channels: 3 } })
      .jpeg({ quality, progressive: values.progressive, chromaSubsampling: values.chroma })
      .toBuffer();
    if (values.keep !== undefined) writeFileSync(join(values.keep, `mosaic-${mp}mp-q${quality}.jpg`), bytes);
    // Warm up both (JIT, libvips' first call), then alternate so that load changes hit both alike.
    for (let i = 0; i < 2; i++) {
      timeCoefficients(bytes);
      await timeSharp(bytes);
    }
    const ours: number[] = [];
    const theirs: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      ours.push(timeCoefficients(bytes));
      theirs.push(await timeSharp(bytes));
    }
    const a = median(ours);
    const b = median(theirs);
    rows.push([
      `${width}×${height}`,
      String(quality),
      (bytes.length / 1024).toFixed(0),
      a.toFixed(1),
      Math.min(...ours).toFixed(1),
      b.toFixed(1),
      Math.min(...theirs).toFixed(1),
      (a / b).toFixed(2),
    ]);
  }
}

const header = ["image", "QF", "KiB", "coefficients ms", "(min)", "sharp→pixels ms", "(min)", "ratio"];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padStart(widths[i]!)).join(" | ")} |`;
console.log(
  `decodeCoefficients vs sharp(buf).raw().toBuffer() (sharp.concurrency(1)), ${values.progressive ? "progressive" : "baseline"} ${values.chroma}, median of ${RUNS} runs; load average ${loadavg()[0]!.toFixed(2)}`,
);
console.log(line(header));
console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
for (const row of rows) console.log(line(row));
