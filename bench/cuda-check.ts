/**
 * Does the model run on onnxruntime's CUDA execution provider, and give what the CPU gives? Restores a
 * photo-like JPEG at 1 MP (one tile: the image whole) and at 12 MP (tiled, blended) on CUDA and on CPU,
 * to lossless PNG so that the comparison sees the pipeline's own pixels, and requires PSNR of the CUDA
 * output against the CPU output ≥ 45 dB at both sizes; then times warm 12 MP restores on CUDA (median of
 * `--runs`). Prints a table.
 *
 * Needs Linux x64, an NVIDIA GPU with its driver, the CUDA 12 and cuDNN 9 libraries, and onnxruntime-node's
 * CUDA provider (`ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci`, README "On a GPU"; the gpu and lambda-gpu images
 * of container/Dockerfile have all of it). Where something is missing it says what and exits 2, restoring
 * nothing: it never reports CPU numbers as CUDA ones.
 *
 *   node --import tsx bench/cuda-check.ts [--model DIR] [--runs N] [--image PHOTO] [--quality Q]
 *
 * Exit status: 0 both sizes ≥ 45 dB, 1 below, 2 CUDA not available here.
 */
import { existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import ort from "onnxruntime-node";
import sharp, { type Sharp } from "sharp";
import type { ExecutionProvider } from "../lib/config.js";
import { psnr } from "../lib/eval/metrics.js";
import { shippedModelDir } from "../lib/model/default-model.js";
import { loadModelFolder } from "../lib/model/model-folder.js";
import { restore } from "../lib/restore/restore.js";
import type { RestoreDescription, RestoreOptions } from "../lib/restore/types.js";

const PSNR_FLOOR_DB = 45;
const MODEL_STEPS = ["cave", "encoder", "unet", "decoder"];

const { values } = parseArgs({
  options: {
    model: { type: "string" },
    runs: { type: "string", default: "5" },
    image: { type: "string" },
    quality: { type: "string", default: "20" },
    help: { type: "boolean" },
  },
});
if (values.help === true) {
  process.stdout.write(
    "node --import tsx bench/cuda-check.ts [--model DIR] [--runs N] [--image PHOTO] [--quality Q]\n",
  );
  process.exit(0);
}
const modelDir = values.model ?? shippedModelDir();
const runs = Math.max(1, Number(values.runs));

/** Why CUDA cannot run here, from the files alone (undefined: its provider library is installed). */
function missingProvider(): string | undefined {
  if (process.platform !== "linux" || process.arch !== "x64") {
    return `onnxruntime-node has a CUDA provider for Linux x64 only; this is ${process.platform}-${process.arch}`;
  }
  const packageDir = dirname(createRequire(import.meta.url).resolve("onnxruntime-node/package.json"));
  const binDir = join(packageDir, "bin");
  const found = readdirSync(binDir)
    .map((napi) => join(binDir, napi, "linux/x64/libonnxruntime_providers_cuda.so"))
    .find((path) => existsSync(path));
  if (found !== undefined) return undefined;
  return (
    `onnxruntime-node here has no CUDA provider (no libonnxruntime_providers_cuda.so under ${binDir}): ` +
    "it was installed with ONNXRUNTIME_NODE_INSTALL=skip, as everywhere without a GPU. On a GPU host: " +
    "ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci (README, On a GPU), or run this in the gpu image"
  );
}

/** onnxruntime's own reason when it cannot open a CUDA session on the model's first stage, else undefined. */
async function cudaSessionError(): Promise<string | undefined> {
  const model = await loadModelFolder(modelDir);
  try {
    const session = await ort.InferenceSession.create(model.files.cave, { executionProviders: ["cuda"] });
    await session.release();
    return undefined;
  } catch (error) {
    return String(error instanceof Error ? error.message : error).split("\n")[0];
  }
}

/** A 4:3 photo-like JPEG of `mp` megapixels: a photo resized, or edges, gradients and fine texture. */
async function sourceJpeg(mp: number): Promise<Uint8Array> {
  const width = Math.round(Math.sqrt((mp * 1e6 * 4) / 3));
  const height = Math.round((width * 3) / 4);
  let image: Sharp;
  if (values.image !== undefined) {
    image = sharp(values.image).rotate().resize(width, height, { fit: "cover" });
  } else {
    const px = Buffer.alloc(width * height * 3);
    let state = 12345;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        state = (state * 1664525 + 1013904223) >>> 0;
        const i = (y * width + x) * 3;
        px[i] = ((x * 255) / width + (state >>> 28)) & 255;
        px[i + 1] = ((x >> 6) + (y >> 6)) & 1 ? 200 : 60;
        px[i + 2] = 128 + 90 * Math.sin(x / 9) * Math.cos(y / 13);
      }
    }
    image = sharp(px, { raw: { width, height, channels: 3 } });
  }
  return image.jpeg({ quality: Number(values.quality) }).toBuffer();
}

interface Run {
  readonly rgb: Buffer;
  readonly description: RestoreDescription;
  readonly wallMs: number;
}

async function restoreOn(provider: ExecutionProvider, jpeg: Uint8Array): Promise<Run> {
  const options: RestoreOptions = { modelDir, executionProvider: provider, format: "png", force: true };
  const start = performance.now();
  const outcome = await restore(jpeg, options);
  const wallMs = performance.now() - start;
  if (outcome.action !== "restored") throw new Error(`not restored: ${outcome.reason}: ${outcome.message}`);
  const rgb = await sharp(outcome.output).removeAlpha().raw().toBuffer();
  return { rgb, description: outcome.description, wallMs };
}

const modelMs = (d: RestoreDescription) => MODEL_STEPS.reduce((sum, step) => sum + (d.timings[step] ?? 0), 0);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<number> {
  const missing = missingProvider();
  if (missing !== undefined) {
    process.stderr.write(`cuda-check: CUDA is not available, nothing was measured.\n  ${missing}\n`);
    return 2;
  }
  const sessionError = await cudaSessionError();
  if (sessionError !== undefined) {
    process.stderr.write(
      "cuda-check: CUDA is not available, nothing was measured: onnxruntime cannot open a CUDA session.\n" +
        `  ${sessionError}\n  Needs an NVIDIA GPU and driver, CUDA 12 and cuDNN 9 libraries.\n`,
    );
    return 2;
  }

  const rows: string[] = [];
  let worst = Number.POSITIVE_INFINITY;
  let big: Uint8Array | undefined;
  for (const mp of [1, 12]) {
    const jpeg = await sourceJpeg(mp);
    if (mp === 12) big = jpeg;
    const cuda = await restoreOn("cuda", jpeg);
    // restore() places CUDA sessions in the model worker, as the GPU functions run them.
    if (cuda.description.run?.provider !== "cuda") {
      process.stderr.write(
        "cuda-check: the restore fell back to the CPU (see the warning above); not measured.\n",
      );
      return 2;
    }
    const cpu = await restoreOn("cpu", jpeg);
    const db = psnr(cuda.rgb, cpu.rgb);
    worst = Math.min(worst, db);
    const { width, height, run } = cuda.description;
    rows.push(
      `| ${mp} MP (${width}×${height}, tiles: ${run?.tiles}) | ${db === Number.POSITIVE_INFINITY ? "identical" : db.toFixed(2)} | ` +
        `${(cpu.wallMs / 1000).toFixed(2)} s | ${(cuda.wallMs / 1000).toFixed(2)} s (first on CUDA) |`,
    );
  }

  const timed: Run[] = [];
  for (let k = 0; k < runs; k++) timed.push(await restoreOn("cuda", big!));
  const wall = median(timed.map((r) => r.wallMs));
  const pick = timed.find((r) => r.wallMs === wall)!;
  const { width, height } = pick.description;
  const mp = (width! * height!) / 1e6;

  process.stdout.write(
    `model ${pick.description.model}, ${modelDir}\n\n` +
      "| image | PSNR CUDA vs CPU, dB | CPU restore | CUDA restore |\n|---|---|---|---|\n" +
      `${rows.join("\n")}\n\n` +
      `12 MP on CUDA, median of ${runs} warm restores: ${(wall / 1000).toFixed(3)} s, ${(mp / (wall / 1000)).toFixed(1)} MP/s; ` +
      `model runs ${(modelMs(pick.description) / 1000).toFixed(3)} s (${MODEL_STEPS.map((s) => `${s} ${Math.round(pick.description.timings[s] ?? 0)} ms`).join(", ")}), ` +
      `decode ${Math.round(pick.description.timings["decode"] ?? 0)} ms, encode (PNG) ${Math.round(pick.description.timings["encode"] ?? 0)} ms\n` +
      `PSNR floor ${PSNR_FLOOR_DB} dB: ${worst >= PSNR_FLOOR_DB ? "met" : "NOT met"}\n`,
  );
  return worst >= PSNR_FLOOR_DB ? 0 : 1;
}

process.exitCode = await main();
