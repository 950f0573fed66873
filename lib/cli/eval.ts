/**
 * `unjpeg eval --set DIR [--qualities 5,10,20,30,40] [--json] [--model DIR] [--limit N] [--perceptual]
 * [--no-projection] [--format F] [--quality auto|N]`: the field's JPEG-artifact-removal benchmark with the
 * model `restore()` runs (see lib/eval/evaluate.ts), and what the derivatives users are served keep of it
 * (lib/eval/derivative.ts).
 */
import { isOutputFormat, loadConfig, OUTPUT_FORMATS, type OutputFormat } from "../config.js";
import { UnjpegError } from "../errors.js";
import { BUTTERAUGLI_COMMAND, type Butteraugli, findButteraugli } from "../eval/butteraugli.js";
import { evaluateSet, type ImageResult, listImages } from "../eval/evaluate.js";
import { type QualitySummary, summarize } from "../eval/summary.js";
import { shippedModelDir } from "../model/default-model.js";
import { loadModelFolder } from "../model/model-folder.js";
import { integerOption, parseCommandArgs, qualityOption, UsageError } from "./args.js";

const USAGE = `usage: unjpeg eval --set DIR [--qualities 5,10,20,30,40] [--json] [--model DIR] [--limit N] [--threads N] [--perceptual] [--no-projection] [--format F] [--quality auto|N]

Compresses each ground-truth image of DIR (PNG, BMP, JPEG, TIFF; colour or grey) with libjpeg standard
tables (4:2:0 for colour) at each quality, restores it with the model, and prints per quality the mean
PSNR on RGB and on Y (BT.601), SSIM and PSNR-B on Y, of the JPEG and of the restoration, the gains, the
worst image's gain, CaVE's quality error, the share of coefficients the projection put back into their
quantization cells, and the time; and what users are served: the restoration encoded as a derivative in
the output encoding in use (UNJPEG_FORMAT, quality auto keeping UNJPEG_KEEP_GAIN), its total bytes over
the source JPEGs', the mean share of the PSNR gain it keeps, and the model's error transfer (what its
encodeErrorTransfer should say). Progress goes to stderr.
  --set DIR          the ground-truth images (searched recursively)
  --qualities LIST   JPEG qualities 1..100, comma-separated (default 5,10,20,30,40)
  --json             NDJSON: one object per image per quality, then a summary object
  --model DIR        a model folder (default: UNJPEG_MODEL_DIR, else the shipped model)
  --limit N          only the first N images (sorted by path)
  --threads N        onnxruntime threads (default: UNJPEG_THREADS, else every core)
  --perceptual       also butteraugli's 3-norm of JPEG and restoration (libjxl's butteraugli_main, Debian
                     package libjxl-devtools; without it, a note and the other measures)
  --no-projection    restore without the projection onto the JPEG's quantization cells (the ablation)
  --format F         the derivatives' format: jpeg, png, webp or avif (default: UNJPEG_FORMAT)
  --quality Q        the derivatives' quality: auto (default) or 1..100
  -h, --help         this text
Exit status: 0 done, 1 an error, 2 bad usage.`;

const OPTIONS = {
  set: { type: "string" },
  qualities: { type: "string" },
  json: { type: "boolean" },
  model: { type: "string" },
  limit: { type: "string" },
  threads: { type: "string" },
  perceptual: { type: "boolean" },
  "no-projection": { type: "boolean" },
  format: { type: "string" },
  quality: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** "5,10,20" → [5, 10, 20]; each an integer 1..100, no repeats. */
export function parseQualities(text: string): number[] {
  const parts = text.split(",").map((s) => s.trim());
  const qualities = parts.map((s) => (/^\d+$/.test(s) ? Number(s) : Number.NaN));
  const bad = parts.filter((_, i) => !(qualities[i]! >= 1 && qualities[i]! <= 100));
  if (bad.length > 0 || parts.length === 0)
    throw new UsageError(`--qualities takes integers 1..100 separated by commas, got "${text}"`);
  if (new Set(qualities).size !== qualities.length)
    throw new UsageError(`--qualities repeats a value: "${text}"`);
  return qualities;
}

const f2 = (v: number): string => (Number.isFinite(v) ? v.toFixed(2) : "inf");
const sign = (v: number, digits = 2): string => `${v >= 0 ? "+" : ""}${v.toFixed(digits)}`;

/** The readable table: one row per quality. */
export function formatTable(summaries: readonly QualitySummary[]): string {
  const perceptual = summaries.some((s) => s.butteraugli !== null);
  const projected = summaries.some((s) => s.clipped !== null);
  const head = [
    "QF",
    "n",
    "PSNR RGB jpeg/restored/gain",
    "PSNR Y jpeg/restored/gain",
    "SSIM Y jpeg/restored",
    "PSNR-B Y jpeg/restored",
    "worst gain (image)",
    "worse",
    "CaVE MAE",
    ...(perceptual ? ["butteraugli 3-norm jpeg/restored/change"] : []),
    ...(projected ? ["clipped"] : []),
    "time",
    "derivative bytes/JPEG",
    "gain kept",
    "derivative PSNR RGB",
    "error transfer",
  ];
  const rows = summaries.map((s) => [
    String(s.quality),
    String(s.images),
    `${f2(s.jpeg.psnrRgb)} / ${f2(s.restored.psnrRgb)} / ${sign(s.gain.psnrRgb)}`,
    `${f2(s.jpeg.psnrY)} / ${f2(s.restored.psnrY)} / ${sign(s.gain.psnrY)}`,
    `${s.jpeg.ssimY.toFixed(4)} / ${s.restored.ssimY.toFixed(4)}`,
    `${f2(s.jpeg.psnrbY)} / ${f2(s.restored.psnrbY)}`,
    `${sign(s.worstGain.psnrRgb)} (${s.worstGain.image})`,
    String(s.imagesWorse),
    s.caveMae === null ? "-" : s.caveMae.toFixed(2),
    ...(perceptual ? [butteraugliCell(s.butteraugli)] : []),
    ...(projected ? [s.clipped === null ? "-" : `${(100 * s.clipped).toFixed(2)} %`] : []),
    `${s.restoreSeconds.toFixed(1)} s, ${s.megapixelsPerSecond.toFixed(2)} MP/s`,
    s.derivative === undefined ? "-" : `${s.derivative.bytesRatio.toFixed(2)}×`,
    s.derivative?.gainKept == null ? "-" : `${(100 * s.derivative.gainKept).toFixed(1)} %`,
    s.derivative === undefined ? "-" : f2(s.derivative.psnrRgb),
    s.derivative?.errorTransfer == null ? "-" : s.derivative.errorTransfer.toFixed(2),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(head), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)].join("\n");
}

function butteraugliCell(b: QualitySummary["butteraugli"]): string {
  return b === null ? "-" : `${b.jpeg.toFixed(3)} / ${b.restored.toFixed(3)} / ${sign(b.change, 3)}`;
}

/** The settings chosen per quality, most used first. */
export function formatEncodings(summaries: readonly QualitySummary[]): string {
  return summaries
    .filter((s) => s.derivative !== undefined)
    .map((s) => {
      const counts = Object.entries(s.derivative!.encodings).sort((a, b) => b[1] - a[1]);
      return `QF ${s.quality} derivatives: ${counts.map(([e, n]) => `${e} ×${n}`).join(", ")}`;
    })
    .join("\n");
}

function outputFormat(text: string): OutputFormat {
  const format = text.toLowerCase();
  if (!isOutputFormat(format))
    throw new UsageError(`--format must be one of ${OUTPUT_FORMATS.join(", ")}, got "${text}"`);
  return format as OutputFormat;
}

const round = (v: number, digits: number): number | null =>
  Number.isFinite(v) ? Math.round(v * 10 ** digits) / 10 ** digits : null;

function jsonLine(r: ImageResult): string {
  const m = (x: ImageResult["jpeg"]) => ({
    psnrRgb: round(x.psnrRgb, 4),
    psnrY: round(x.psnrY, 4),
    ssimY: round(x.ssimY, 6),
    psnrbY: round(x.psnrbY, 4),
  });
  return JSON.stringify({
    type: "image",
    ...r,
    jpeg: m(r.jpeg),
    restored: m(r.restored),
    gain: { psnrRgb: round(r.gain.psnrRgb, 4), psnrY: round(r.gain.psnrY, 4) },
    restoreMs: Math.round(r.restoreMs),
    ...(r.derivative === undefined
      ? {}
      : {
          derivative: {
            encoding: r.derivative.encoding,
            bytes: r.derivative.bytes,
            psnrRgb: round(r.derivative.psnrRgb, 4),
            gainKept: r.derivative.gainKept === null ? null : round(r.derivative.gainKept, 4),
            encodingMse: round(r.derivative.squaredErrors.encoding, 4),
          },
        }),
  });
}

export async function main(argv: string[]): Promise<number> {
  let values: ReturnType<typeof parseCommandArgs<typeof OPTIONS>>["values"];
  let qualities: number[];
  let limit: number | undefined;
  let threads: number | undefined;
  let derivativeFormat: OutputFormat;
  let derivativeQuality: number | "auto";
  const config = loadConfig();
  try {
    const parsed = parseCommandArgs(argv, OPTIONS);
    values = parsed.values;
    if (values.help === true) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    if (parsed.positionals.length > 0) throw new UsageError(`unexpected argument "${parsed.positionals[0]}"`);
    if (values.set === undefined) throw new UsageError("--set DIR is required");
    qualities = parseQualities(values.qualities ?? "5,10,20,30,40");
    limit = integerOption("limit", values.limit);
    threads = integerOption("threads", values.threads);
    derivativeFormat = outputFormat(values.format ?? config.format);
    derivativeQuality = qualityOption(values.quality);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`unjpeg eval: ${error.message} [${error.code}]\n${USAGE}\n`);
      return 2;
    }
    throw error;
  }
  const set = values.set;
  let files: string[];
  try {
    files = (await listImages(set)).slice(0, limit);
  } catch (error) {
    // A --set that names no images is a command-line mistake: usage status, the error's code kept.
    if (error instanceof UnjpegError) {
      process.stderr.write(`unjpeg eval: ${error.message} [${error.code}]\n`);
      return 2;
    }
    throw error;
  }
  const modelDir = values.model ?? config.modelDir;
  const { manifest } = await loadModelFolder(modelDir ?? shippedModelDir());
  const derivative = {
    format: derivativeFormat,
    quality: derivativeQuality,
    keepGain: config.keepGain,
    trellis: config.trellis,
    errorTransfer: manifest.encodeErrorTransfer,
  };
  const json = values.json === true;
  const projection = values["no-projection"] === true ? false : config.projection;
  let butteraugli: Butteraugli | undefined;
  if (values.perceptual === true) {
    butteraugli = (await findButteraugli()) ?? undefined;
    if (butteraugli === undefined) {
      process.stderr.write(
        `unjpeg eval: note: ${BUTTERAUGLI_COMMAND} is not installed (Debian: apt-get install libjxl-devtools), so there is no butteraugli measure; going on without it\n`,
      );
    }
  }
  const tty = process.stderr.isTTY === true;
  const started = performance.now();
  const results: ImageResult[] = [];
  try {
    for await (const result of evaluateSet(files, set, qualities, {
      modelDir,
      threads: threads ?? config.threads,
      projection,
      butteraugli,
      derivative,
      onProgress: ({ index, count, image, quality }) => {
        const text = `image ${index}/${count} ${image} QF ${quality}`;
        process.stderr.write(tty ? `\r\x1b[K${text}` : `${text}\n`);
      },
    })) {
      results.push(result);
      if (json) process.stdout.write(`${jsonLine(result)}\n`);
    }
  } finally {
    await butteraugli?.close();
  }
  if (tty) process.stderr.write("\n");
  const summaries = summarize(results, qualities);
  const seconds = (performance.now() - started) / 1000;
  const model = results[0]?.model ?? modelDir ?? "shipped";
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ type: "summary", set, images: files.length, model, projection, derivative, qualities: summaries, seconds })}\n`,
    );
  } else {
    process.stdout.write(
      `set ${set} (${files.length} images), model ${model}, projection ${projection ? "on" : "off"}; means over images; gains in dB; ${seconds.toFixed(0)} s\n` +
        `derivatives: ${derivativeFormat}, quality ${derivativeQuality}${derivativeQuality === "auto" ? ` (keep ${config.keepGain} of the gain, error transfer ${manifest.encodeErrorTransfer}${config.trellis ? ", trellis" : ""})` : ""}\n` +
        `${formatTable(summaries)}\n${formatEncodings(summaries)}\n`,
    );
  }
  return 0;
}
