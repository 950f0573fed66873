/**
 * `unjpeg restore IN... [-o OUT | --out-dir DIR] [--format F] [--quality auto|N] [--force] [--json] [--model DIR]`: restores
 * files with the same `restore()` the handlers use. Outputs are written whole or not at all (temporary
 * file, then rename); every output name is decided before the first restore, and an input is never
 * overwritten (restore-outputs.ts).
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, stat, unlink, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { type Config, isOutputFormat, loadConfig, OUTPUT_FORMATS, type OutputFormat } from "../config.js";
import { isUnjpegError, UnjpegError } from "../errors.js";
import { restore } from "../restore/restore.js";
import type { RestoreOutcome } from "../restore/types.js";
import { integerOption, parseCommandArgs, qualityOption, UsageError } from "./args.js";
import { type OutputGuard, outputGuard, type PlannedOutput, planOutputs } from "./restore-outputs.js";

const USAGE = `usage: unjpeg restore IN... [-o OUT | --out-dir DIR] [--format jpeg|png|webp|avif] [--quality auto|N] [--force] [--no-projection] [--json] [--model DIR]

Restores heavily compressed JPEGs with the model (default: the shipped one); progress goes to stderr.
Sources whose quality, estimated from their quantization tables, is at or above UNJPEG_SKIP_QUALITY (90)
are skipped, unless they were re-saved from an earlier compression below it (UNJPEG_DETECT_RESAVED).
  -o, --output OUT   where to write (one input only); default <stem>.restored.<ext> beside the input
  --out-dir DIR      write each output as DIR/<stem>.<ext> (inputs that would share one are refused)
  --format F         jpeg (default), png, webp or avif
  --quality Q        auto (default): the encoder setting with the fewest bytes that keeps UNJPEG_KEEP_GAIN
                     (0.9) of the restoration's PSNR gain (JPEG with UNJPEG_TRELLIS=true: trellis
                     quantisation, fewer bytes for ~3x the encoding time); N (1..100) forces that
                     quality (JPEG 4:4:4)
  --force            restore even high-quality sources
  --no-projection    keep the model's pixels: no projection onto the source's quantization cells
                     (default: UNJPEG_PROJECTION, else on)
  --json             one JSON object per line per input
  --model DIR        a model folder (default: UNJPEG_MODEL_DIR, else the shipped model)
  --threads N        onnxruntime threads (default: UNJPEG_THREADS, else every core)
  -h, --help         this text
Exit status: 0 every input restored or skipped, 1 some input failed, 2 bad usage.`;

const OPTIONS = {
  output: { type: "string", short: "o" },
  "out-dir": { type: "string" },
  format: { type: "string" },
  quality: { type: "string" },
  force: { type: "boolean" },
  "no-projection": { type: "boolean" },
  json: { type: "boolean" },
  model: { type: "string" },
  threads: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

interface Plan {
  readonly inputs: readonly string[];
  readonly output: string | undefined;
  readonly outDir: string | undefined;
  readonly format: OutputFormat;
  readonly quality: number | "auto";
  readonly threads: number | undefined;
  readonly force: boolean;
  readonly projection: boolean;
  readonly json: boolean;
  readonly modelDir: string | undefined;
}

function plan(argv: string[], config: Config): Plan | "help" {
  const { values, positionals } = parseCommandArgs(argv, OPTIONS);
  if (values.help === true) return "help";
  if (positionals.length === 0) throw new UsageError("no input files given");
  if (values.output !== undefined && values["out-dir"] !== undefined)
    throw new UsageError("give -o or --out-dir, not both");
  if (values.output !== undefined && positionals.length > 1)
    throw new UsageError("-o takes one input; use --out-dir for several");
  const format = (values.format ?? config.format).toLowerCase();
  if (!isOutputFormat(format)) {
    throw new UsageError(`--format must be one of ${OUTPUT_FORMATS.join(", ")}, got "${format}"`);
  }
  return {
    inputs: positionals,
    output: values.output,
    outDir: values["out-dir"],
    format: format as OutputFormat,
    quality: qualityOption(values.quality),
    threads: integerOption("threads", values.threads, { max: 1024 }) ?? config.threads,
    force: values.force === true,
    projection: values["no-projection"] === true ? false : config.projection,
    json: values.json === true,
    modelDir: values.model ?? config.modelDir,
  };
}

/** Writes to a temporary name beside the target, then renames: the target is whole or absent. */
async function writeAtomically(path: string, data: Uint8Array): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    await writeFile(temp, data, { flag: "wx" });
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
}

type Report =
  | {
      file: string;
      action: "restored";
      output: string;
      outcome: Extract<RestoreOutcome, { action: "restored" }>;
    }
  | { file: string; action: "skipped"; outcome: Extract<RestoreOutcome, { action: "skipped" }> }
  | { file: string; action: "failed"; error: { code: string; message: string } };

async function restoreFile(
  planned: PlannedOutput,
  p: Plan,
  config: Config,
  guard: OutputGuard,
): Promise<Report> {
  const input = planned.input;
  try {
    if ("refused" in planned) throw planned.refused;
    const target = planned.target;
    const info = await stat(input);
    if (!info.isFile()) throw new UnjpegError("FILE_NOT_REGULAR", `${input} is not a regular file`);
    if (info.size > config.maxBytes) {
      // Refused before reading, so a huge file is never loaded.
      return { file: input, action: "skipped", outcome: tooLarge(info.size, config.maxBytes) };
    }
    const bytes = await readFile(input);
    const tty = process.stderr.isTTY === true;
    let lastProgress = performance.now();
    const outcome = await restore(bytes, {
      format: p.format,
      quality: p.quality,
      keepGain: config.keepGain,
      force: p.force,
      projection: p.projection,
      skipQuality: config.skipQuality,
      maxPixels: config.maxPixels,
      maxBytes: config.maxBytes,
      modelDir: p.modelDir,
      threads: p.threads,
      executionProvider: config.executionProvider,
      detectResaved: config.detectResaved,
      onProgress: ({ tile, tiles }) => {
        if (tiles < 2) return;
        if (tty) {
          process.stderr.write(`\r${input}: tile ${tile}/${tiles}${tile === tiles ? "\n" : ""}`);
        } else if (performance.now() - lastProgress > 5000) {
          // Logs get a line at most every 5 s, and only for runs that long.
          lastProgress = performance.now();
          process.stderr.write(`${input}: tile ${tile}/${tiles}\n`);
        }
      },
    });
    if (outcome.action === "skipped") return { file: input, action: "skipped", outcome };
    if (p.outDir !== undefined) await mkdir(p.outDir, { recursive: true });
    await guard.check(input, target);
    await writeAtomically(target, outcome.output);
    await guard.wrote(input, target);
    return { file: input, action: "restored", output: target, outcome };
  } catch (error) {
    if (isUnjpegError(error))
      return { file: input, action: "failed", error: { code: error.code, message: error.message } };
    const code = (error as NodeJS.ErrnoException).code;
    if (typeof code === "string")
      return {
        file: input,
        action: "failed",
        error: { code: `FILE_${code}`, message: (error as Error).message },
      };
    throw error;
  }
}

function tooLarge(size: number, maxBytes: number): Extract<RestoreOutcome, { action: "skipped" }> {
  return {
    action: "skipped",
    reason: "too-large",
    message: `the file is ${size} bytes, over the limit of ${maxBytes}`,
    description: {
      quality: null,
      qualityMatch: null,
      predictedQuality: null,
      model: null,
      width: null,
      height: null,
      inputBytes: size,
      outputBytes: null,
      format: null,
      timings: {},
      totalMs: 0,
    },
  };
}

function jsonLine(r: Report): string {
  if (r.action === "failed") return JSON.stringify(r);
  const d = r.outcome.description;
  const common = { file: r.file, action: r.action, quality: d.quality, qualityMatch: d.qualityMatch };
  if (r.action === "skipped")
    return JSON.stringify({ ...common, reason: r.outcome.reason, message: r.outcome.message });
  return JSON.stringify({
    ...common,
    output: r.output,
    earlierQuality: d.recompressed?.quality ?? null,
    ...(d.recompressed === undefined ? {} : { recompressed: d.recompressed }),
    predictedQuality: d.predictedQuality,
    model: d.model,
    width: d.width,
    height: d.height,
    inputBytes: d.inputBytes,
    outputBytes: d.outputBytes,
    format: d.format,
    encoding: d.encoding,
    ms: Math.round(d.totalMs),
    timings: Object.fromEntries(Object.entries(d.timings).map(([k, v]) => [k, Math.round(v)])),
    run: d.run,
    projection: d.projection,
  });
}

function textLine(r: Report): string {
  if (r.action === "failed") return `${r.file}: failed: ${r.error.message} [${r.error.code}]`;
  if (r.action === "skipped") return `${r.file}: skipped (${r.outcome.reason}): ${r.outcome.message}`;
  const d = r.outcome.description;
  const guess = d.predictedQuality === null ? "" : `, model's guess ${d.predictedQuality}`;
  const earlier = d.recompressed === undefined ? "" : ` (re-saved from ${d.recompressed.quality})`;
  return `${r.file} → ${r.output}  quality ${d.quality}${earlier}${guess}  ${d.width}×${d.height}  ${d.encoding}  ${(d.totalMs / 1000).toFixed(2)} s`;
}

export async function main(argv: string[]): Promise<number> {
  const config = loadConfig();
  let p: Plan | "help";
  try {
    p = plan(argv, config);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`unjpeg restore: ${error.message}\n${USAGE}\n`);
    return 2;
  }
  if (p === "help") {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  // Every output name is decided (and every clash refused) before the first restore.
  const naming = { output: p.output, outDir: p.outDir, format: p.format, suffix: config.derivativeSuffix };
  const [planned, guard] = await Promise.all([planOutputs(p.inputs, naming), outputGuard(p.inputs)]);
  let failed = false;
  for (const one of planned) {
    const report = await restoreFile(one, p, config, guard);
    failed ||= report.action === "failed";
    process.stdout.write(`${p.json ? jsonLine(report) : textLine(report)}\n`);
  }
  return failed ? 1 : 0;
}
