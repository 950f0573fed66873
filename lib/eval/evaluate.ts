/**
 * The field's evaluation protocol over a set of ground-truth images: compress each with libjpeg standard
 * tables (4:2:0 for colour) at each quality, restore the JPEG with `restore()` (lossless PNG out, so the
 * metrics see the model's own pixels), and compare JPEG and restoration with the ground truth.
 */
import { readdir, stat } from "node:fs/promises";
import { extname, join, relative } from "node:path";
import sharp from "sharp";
import { UnjpegError } from "../errors.js";
import { decodeImage } from "../image/decode.js";
import { inspectJpeg } from "../jpeg/index.js";
import { restore } from "../restore/restore.js";
import type { ProjectionDescription } from "../restore/types.js";
import type { Butteraugli } from "./butteraugli.js";
import { type DerivativeOptions, type DerivativeResult, measureDerivative } from "./derivative.js";
import { type ImageMetrics, imageMetrics } from "./metrics.js";

/** What models/training/eval.py reads too (data.IMAGE_EXTS). */
export const IMAGE_EXTENSIONS = new Set([".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"]);

export interface GroundTruth {
  readonly name: string;
  readonly width: number;
  readonly height: number;
  readonly grey: boolean;
  /** Interleaved 8-bit RGB (grey replicated). */
  readonly rgb: Uint8Array;
}

export interface ImageResult {
  readonly image: string;
  readonly quality: number;
  readonly width: number;
  readonly height: number;
  readonly grey: boolean;
  readonly jpegBytes: number;
  readonly jpeg: ImageMetrics;
  readonly restored: ImageMetrics;
  readonly gain: { readonly psnrRgb: number; readonly psnrY: number };
  /** CaVE's quality estimate (null for models without a quality head). */
  readonly predictedQuality: number | null;
  /** `<id>@<version>` of the model that ran. */
  readonly model: string | null;
  /** The model's band that restored it (manifest `bands`), null: the model's own weights. */
  readonly band: string | null;
  /** restore() wall time without the one-time model load. */
  readonly restoreMs: number;
  /** What the quantization-constraint projection did (off with `projection: false`). */
  readonly projection: ProjectionDescription | null;
  /** Butteraugli 3-norms against the ground truth, when asked for (lower is closer). */
  readonly butteraugli: { readonly jpeg: number; readonly restored: number } | null;
  /** The restoration encoded as a derivative (EvalOptions.derivative), against the truth. */
  readonly derivative?: DerivativeResult;
}

export interface EvalOptions {
  readonly modelDir?: string;
  readonly threads?: number;
  /** The projection onto the JPEG's quantization cells (default on, as restore()). */
  readonly projection?: boolean;
  /** Measure butteraugli's 3-norm too (lib/eval/butteraugli.ts). */
  readonly butteraugli?: Butteraugli;
  /** Also measure the derivative in this output encoding (lib/eval/derivative.ts). */
  readonly derivative?: Omit<DerivativeOptions, "modelTag">;
  /** Called before each restore: image index from 1, image count, name, quality. */
  readonly onProgress?: (p: { index: number; count: number; image: string; quality: number }) => void;
}

/** Every readable image under `dir` (recursively), sorted by path as eval.py sorts them. */
export async function listImages(dir: string): Promise<string[]> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(dir);
  } catch (cause) {
    throw new UnjpegError("EVAL_SET_MISSING", `the evaluation set ${dir} does not exist`, { cause });
  }
  if (!info.isDirectory()) throw new UnjpegError("EVAL_SET_MISSING", `${dir} is not a directory`);
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((e) => e.isFile() && IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase()))
    .map((e) => join(e.parentPath, e.name))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (files.length === 0) {
    throw new UnjpegError("EVAL_SET_EMPTY", `no images (${[...IMAGE_EXTENSIONS].join(", ")}) in ${dir}`);
  }
  return files;
}

/** Decodes a ground-truth file to 8-bit RGB, values as stored (no colour management, no orientation). */
export async function loadGroundTruth(path: string, name = path): Promise<GroundTruth> {
  try {
    const image = sharp(path, { ignoreIcc: true, failOn: "error" });
    const meta = await image.metadata();
    const grey =
      meta.channels === 1 || meta.channels === 2 || meta.space === "b-w" || meta.space === "grey16";
    const { data, info } = await image
      .removeAlpha()
      .toColourspace("srgb")
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded ${info.channels} channels`);
    const rgb = new Uint8Array(data.buffer, data.byteOffset, data.length);
    return { name, width: info.width, height: info.height, grey, rgb };
  } catch (cause) {
    throw new UnjpegError("EVAL_IMAGE_UNREADABLE", `cannot read ${path}: ${(cause as Error).message}`, {
      cause,
    });
  }
}

/**
 * Baseline JPEG with libjpeg's standard (Annex K) tables scaled to `quality`: 4:2:0 for colour, one
 * component for grey. sharp's mozjpeg is set to libjpeg-turbo defaults by libvips unless asked otherwise;
 * the tables are checked, so a change of encoder can never silently change the protocol.
 */
export async function compressStandard(gt: GroundTruth, quality: number): Promise<Buffer> {
  const { width, height } = gt;
  const input = gt.grey
    ? sharp(Buffer.from(gt.rgb.filter((_, i) => i % 3 === 0)), {
        raw: { width, height, channels: 1 },
      }).toColourspace("b-w")
    : sharp(gt.rgb, { raw: { width, height, channels: 3 } });
  const bytes = await input
    .jpeg({
      quality,
      chromaSubsampling: "4:2:0",
      mozjpeg: false,
      progressive: false,
      trellisQuantisation: false,
    })
    .toBuffer();
  const found = inspectJpeg(bytes, { fileSize: bytes.length });
  const subsampling = gt.grey ? "4:0:0" : "4:2:0";
  if (
    found.status !== "ok" ||
    found.quality !== quality ||
    found.match !== "exact" ||
    found.subsampling !== subsampling ||
    found.process !== "baseline"
  ) {
    const got =
      found.status === "ok"
        ? `quality ${found.quality} (${found.match}), ${found.subsampling}, ${found.process}`
        : found.status;
    throw new UnjpegError(
      "EVAL_ENCODER_MISMATCH",
      `the JPEG encoder did not write standard tables: asked quality ${quality} ${subsampling} baseline, got ${got}`,
    );
  }
  return bytes;
}

/** One ground-truth image at one quality: compress, decode, restore, measure. */
export async function evaluateOne(
  gt: GroundTruth,
  quality: number,
  options: EvalOptions = {},
): Promise<ImageResult> {
  const jpegBytes = await compressStandard(gt, quality);
  const decoded = await decodeImage(jpegBytes);
  const outcome = await restore(jpegBytes, {
    force: true,
    format: "png",
    modelDir: options.modelDir,
    threads: options.threads,
    projection: options.projection,
    maxPixels: Number.MAX_SAFE_INTEGER,
    maxBytes: Number.MAX_SAFE_INTEGER,
  });
  if (outcome.action !== "restored") {
    throw new UnjpegError(
      "EVAL_NOT_RESTORED",
      `${gt.name} at quality ${quality} was skipped: ${outcome.message}`,
    );
  }
  const restored = await decodeImage(outcome.output, {
    maxPixels: Number.MAX_SAFE_INTEGER,
    maxBytes: Number.MAX_SAFE_INTEGER,
  });
  const { width, height, grey } = gt;
  for (const [what, got] of [
    ["JPEG", decoded.info],
    ["restoration", restored.info],
  ] as const) {
    if (got.width !== width || got.height !== height)
      throw new UnjpegError(
        "EVAL_SIZE_MISMATCH",
        `${gt.name}: the ${what} is ${got.width}×${got.height}, the ground truth ${width}×${height}`,
      );
  }
  const jpeg = imageMetrics(gt.rgb, decoded.rgb, width, height, grey);
  const out = imageMetrics(gt.rgb, restored.rgb, width, height, grey);
  const derivative =
    options.derivative === undefined
      ? undefined
      : await measureDerivative(
          jpegBytes,
          { truth: gt.rgb, decoded: decoded.rgb, restored: restored.rgb },
          { width, height, grey },
          { ...options.derivative, modelTag: outcome.description.model ?? "" },
        );
  const perceptual = options.butteraugli;
  const butteraugli =
    perceptual === undefined
      ? null
      : {
          jpeg: await perceptual.distance(gt.rgb, decoded.rgb, width, height),
          restored: await perceptual.distance(gt.rgb, restored.rgb, width, height),
        };
  return {
    image: gt.name,
    quality,
    width,
    height,
    grey,
    jpegBytes: jpegBytes.length,
    jpeg,
    restored: out,
    gain: { psnrRgb: out.psnrRgb - jpeg.psnrRgb, psnrY: out.psnrY - jpeg.psnrY },
    predictedQuality: outcome.description.predictedQuality,
    model: outcome.description.model,
    band: outcome.description.run?.band ?? null,
    // The one-time model load (first image only) is not the restore's cost.
    restoreMs: outcome.description.totalMs - (outcome.description.timings["load"] ?? 0),
    projection: outcome.description.projection ?? null,
    butteraugli,
    ...(derivative === undefined ? {} : { derivative }),
  };
}

/**
 * Evaluates every image at every quality; yields results as they come (image by image, each image's
 * qualities in the order given), so callers can stream them.
 */
export async function* evaluateSet(
  files: readonly string[],
  root: string,
  qualities: readonly number[],
  options: EvalOptions = {},
): AsyncGenerator<ImageResult> {
  for (const [i, file] of files.entries()) {
    const gt = await loadGroundTruth(file, relative(root, file));
    for (const quality of qualities) {
      options.onProgress?.({ index: i + 1, count: files.length, image: gt.name, quality });
      yield await evaluateOne(gt, quality, options);
    }
  }
}
