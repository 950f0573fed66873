import { UnjpegError } from "./errors.js";
import { DEFAULT_KEEP_GAIN } from "./image/encoder-setting.js";
import { DEFAULT_LIMITS, DEFAULT_SKIP_QUALITY } from "./image/limits.js";
import { DEFAULT_MODEL_CONCURRENCY } from "./model/run-queue.js";

/** Output formats a derivative can be written in. */
export const OUTPUT_FORMATS = ["jpeg", "png", "webp", "avif"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Where the model runs (UNJPEG_EXECUTION_PROVIDER): the one list, for the configuration, the restore and onnxruntime. */
export const EXECUTION_PROVIDERS = ["cpu", "cuda"] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];

/** Whether a string names an output format. */
export const isOutputFormat = (name: string): name is OutputFormat =>
  (OUTPUT_FORMATS as readonly string[]).includes(name);

/** Everything unjpeg reads from the environment, checked once (names and defaults: docs/CONTRACTS.md). */
export interface Config {
  readonly derivativeSuffix: string;
  readonly derivativePrefix: string;
  readonly format: OutputFormat;
  readonly skipQuality: number;
  readonly maxPixels: number;
  readonly maxBytes: number;
  /**
   * The share of the restoration's PSNR gain a derivative's encoding keeps, 0..1 (`--quality auto`, the
   * default: the encoder setting with the fewest bytes that keeps it, lib/image/choose-encoding.ts).
   */
  readonly keepGain: number;
  /** JPEG derivatives chosen per image: mozjpeg's trellis quantisation (fewer bytes, ~3× the encoding time). */
  readonly trellis: boolean;
  /** Absent: the shipped model. */
  readonly modelDir: string | undefined;
  /** Absent: let the runtime choose from the cores it is given. */
  readonly threads: number | undefined;
  readonly executionProvider: ExecutionProvider;
  /** Restores that decode, run the model and encode at once in this process; the rest wait their turn. */
  readonly modelConcurrency: number;
  /** Project restorations of JPEGs onto their source's quantization cells (default true). */
  readonly projection: boolean;
  readonly bucket: string | undefined;
  /** Empty: every prefix. */
  readonly sourcePrefixes: readonly string[];
  /** Empty: unsigned URLs are accepted. The first key signs, all verify. */
  readonly signingKeys: readonly string[];
  readonly s3Endpoint: string | undefined;
  readonly s3ForcePathStyle: boolean;
  /** Every S3 request: the longest the TCP connection may take to open. */
  readonly s3ConnectTimeoutMs: number;
  /** Every S3 request: the longest it may go without a byte moving, from connecting to the response's end. */
  readonly s3RequestTimeoutMs: number;
  readonly s3Port: number;
  readonly httpPort: number;
  /**
   * CDN origin: seconds a derivative served from memory may go without re-checking its source's ETag
   * (0, the default: every request checks, so a changed source is never answered with the old derivative).
   */
  readonly revalidateSeconds: number;
  /** CDN origin: the SQS queue restores that cannot finish before the deadline are handed to (absent: none). */
  readonly restoreQueueUrl: string | undefined;
  /**
   * Look for an earlier, harder compression in sources whose last tables are at or above `skipQuality`
   * (lib/restore/resaved.ts; default true).
   */
  readonly detectResaved: boolean;
}

export class ConfigError extends UnjpegError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super("CONFIG_INVALID", `invalid configuration:\n  - ${problems.join("\n  - ")}`);
    this.problems = problems;
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads and validates the environment once. Every problem is collected and reported in one error, so an
 * operator fixes a deployment in one round. Nothing else in unjpeg reads `process.env` for settings (the
 * CLI's entry reads npm's INIT_CWD, where the user typed the command). A command line's overrides come as
 * `overrides`, by the same names (UNJPEG_FORMAT, ...), and are checked by the same rules.
 */
export function loadConfig(env: Env = process.env, overrides: Env = {}): Config {
  return readConfig({ ...env, ...withoutUnset(overrides) });
}

/** The environment's configuration with a command line's overrides, checked together. */
export const loadConfigWith = (overrides: Env): Config => loadConfig(process.env, overrides);

/** The overrides of an `--endpoint URL` option: that S3 endpoint, path-style (a local S3 server). */
export function endpointOverrides(endpoint: string | undefined): Env {
  return endpoint === undefined ? {} : { UNJPEG_S3_ENDPOINT: endpoint, UNJPEG_S3_FORCE_PATH_STYLE: "true" };
}

const withoutUnset = (env: Env): Env =>
  Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined));

function readConfig(env: Env): Config {
  const problems: string[] = [];
  const text = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value.trim() === "" ? undefined : value.trim();
  };
  const int = (name: string, fallback: number | undefined, min: number, max: number): number | undefined => {
    const raw = text(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return value;
  };
  const fraction = (name: string, fallback: number): number => {
    const raw = text(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^\d*\.?\d+$/.test(raw) || !(value >= 0 && value <= 1)) {
      problems.push(`${name} must be a number from 0 to 1, got "${raw}"`);
      return fallback;
    }
    return value;
  };
  const list = (name: string): string[] =>
    (text(name) ?? "")
      .split(",")
      .map((item) => item.trim())
      .filter((item) => item !== "");

  const format = (text("UNJPEG_FORMAT") ?? "jpeg").toLowerCase();
  if (!isOutputFormat(format)) {
    problems.push(`UNJPEG_FORMAT must be one of ${OUTPUT_FORMATS.join(", ")}, got "${format}"`);
  }
  const provider = (text("UNJPEG_EXECUTION_PROVIDER") ?? "cpu").toLowerCase();
  if (!(EXECUTION_PROVIDERS as readonly string[]).includes(provider)) {
    problems.push(`UNJPEG_EXECUTION_PROVIDER must be cpu or cuda, got "${provider}"`);
  }
  const suffix = env["UNJPEG_DERIVATIVE_SUFFIX"] ?? ".restored";
  const prefix = env["UNJPEG_DERIVATIVE_PREFIX"] ?? "";
  if (suffix === "" && prefix === "") {
    problems.push(
      "UNJPEG_DERIVATIVE_SUFFIX and UNJPEG_DERIVATIVE_PREFIX cannot both be empty (a derivative would overwrite its source)",
    );
  }
  if (/[/\\]/.test(suffix))
    problems.push(`UNJPEG_DERIVATIVE_SUFFIX must not contain a slash, got "${suffix}"`);
  const flag = (name: string, fallback: boolean): boolean => {
    const raw = (text(name) ?? String(fallback)).toLowerCase();
    if (!["true", "false", "1", "0"].includes(raw))
      problems.push(`${name} must be true or false, got "${raw}"`);
    return raw === "true" || raw === "1";
  };
  const endpoint = text("UNJPEG_S3_ENDPOINT");
  if (endpoint !== undefined && !URL.canParse(endpoint)) {
    problems.push(`UNJPEG_S3_ENDPOINT must be a URL, got "${endpoint}"`);
  }

  const config: Config = {
    derivativeSuffix: suffix,
    derivativePrefix: prefix,
    format: format as OutputFormat,
    skipQuality: int("UNJPEG_SKIP_QUALITY", DEFAULT_SKIP_QUALITY, 1, 101) as number,
    maxPixels: int("UNJPEG_MAX_PIXELS", DEFAULT_LIMITS.maxPixels, 1, 2 ** 31) as number,
    maxBytes: int("UNJPEG_MAX_BYTES", DEFAULT_LIMITS.maxBytes, 1, 2 ** 40) as number,
    keepGain: fraction("UNJPEG_KEEP_GAIN", DEFAULT_KEEP_GAIN),
    trellis: flag("UNJPEG_TRELLIS", false),
    modelDir: text("UNJPEG_MODEL_DIR"),
    threads: int("UNJPEG_THREADS", undefined, 1, 1024),
    executionProvider: provider as ExecutionProvider,
    modelConcurrency: int("UNJPEG_MODEL_CONCURRENCY", DEFAULT_MODEL_CONCURRENCY, 1, 64) as number,
    projection: flag("UNJPEG_PROJECTION", true),
    bucket: text("UNJPEG_BUCKET"),
    sourcePrefixes: list("UNJPEG_SOURCE_PREFIXES"),
    signingKeys: list("UNJPEG_SIGNING_KEYS"),
    s3Endpoint: endpoint,
    s3ForcePathStyle: flag("UNJPEG_S3_FORCE_PATH_STYLE", false),
    s3ConnectTimeoutMs: int("UNJPEG_S3_CONNECT_TIMEOUT_MS", 5_000, 1, 600_000) as number,
    s3RequestTimeoutMs: int("UNJPEG_S3_REQUEST_TIMEOUT_MS", 30_000, 1, 3_600_000) as number,
    s3Port: int("UNJPEG_S3_PORT", 4569, 1, 65535) as number,
    httpPort: int("UNJPEG_HTTP_PORT", 3000, 1, 65535) as number,
    revalidateSeconds: int("UNJPEG_REVALIDATE_SECONDS", 0, 0, 86_400) as number,
    restoreQueueUrl: text("UNJPEG_RESTORE_QUEUE_URL"),
    detectResaved: flag("UNJPEG_DETECT_RESAVED", true),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config);
}
