/** `unjpeg backfill` options: parsed and checked here, so the command itself only wires parts together. */
import { createHash } from "node:crypto";
import { resolve } from "node:path";
import { parseSince } from "../backfill/glob.js";
import { parseS3Url, type S3Location } from "../backfill/listing.js";
import { isOutputFormat, OUTPUT_FORMATS, type OutputFormat } from "../config.js";
import { integerOption, parseCommandArgs, UsageError } from "./args.js";

export const BACKFILL_USAGE = `usage: unjpeg backfill s3://bucket/prefix [options]
       unjpeg backfill --manifest FILE [options]

Restores the existing JPEGs under a prefix (or named by a manifest) that need it, writing derivatives
beside them like the upload handler. Each object is triaged from one ranged GET of its headers.
  --endpoint URL        an S3-compatible endpoint (path-style), e.g. http://localhost:4569
  --concurrency N       objects in flight (default 8); most only need their triage GET
  --restore-concurrency N  restores running at once among them (1..64, default 2; each uses every core)
  --dry-run             triage only: print what would be restored and the estimated cost
  --skip-quality Q      skip sources at or above this estimated quality (default UNJPEG_SKIP_QUALITY, 90)
  --format F            jpeg, png, webp or avif (default UNJPEG_FORMAT, jpeg)
  --include GLOB        only keys matching (repeatable; * within a folder, ** across folders)
  --exclude GLOB        leave out keys matching (repeatable)
  --since DATE          only objects modified since an ISO date or an age (7d, 12h)
  --redo-stale          also redo derivatives made by another model or from an older source
  --manifest FILE       read objects from a CSV (bucket,key[,version]) or an S3 Inventory manifest.json
                        (a local path or s3://bucket/key) instead of listing
  --state FILE          resume journal (default: ./unjpeg-backfill-<bucket>-<hash>.state.jsonl); rerun the
                        same command after a crash or Ctrl-C to continue where it stopped
  --report FILE         also write the final JSON report here (it always goes to stdout)
  --retries N           attempts per object on throttling, timeouts and 5xx (default 5)
  --progress-every S    seconds between progress lines when stderr is not a terminal (default 10)
  -h, --help            this text
Exit status: 0 done, 1 some objects failed (see the report), 2 bad usage, 130 interrupted.`;

export interface BackfillArgs {
  readonly location: S3Location | null;
  readonly manifest: string | null;
  /** What the state file belongs to. */
  readonly source: string;
  readonly endpoint: string | undefined;
  readonly concurrency: number;
  readonly restoreConcurrency: number;
  readonly dryRun: boolean;
  readonly skipQuality: number | undefined;
  readonly format: OutputFormat | undefined;
  readonly include: readonly string[];
  readonly exclude: readonly string[];
  readonly since: Date | undefined;
  readonly redoStale: boolean;
  readonly statePath: string;
  readonly reportPath: string | undefined;
  readonly retries: number;
  readonly progressEverySeconds: number;
}

const OPTIONS = {
  endpoint: { type: "string" },
  concurrency: { type: "string" },
  "restore-concurrency": { type: "string" },
  "dry-run": { type: "boolean" },
  "skip-quality": { type: "string" },
  format: { type: "string" },
  include: { type: "string", multiple: true },
  exclude: { type: "string", multiple: true },
  since: { type: "string" },
  "redo-stale": { type: "boolean" },
  manifest: { type: "string" },
  state: { type: "string" },
  report: { type: "string" },
  retries: { type: "string" },
  "progress-every": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** Null for --help. */
export function parseBackfillArgs(argv: string[], now: Date = new Date()): BackfillArgs | null {
  const { values, positionals } = parseCommandArgs(argv, OPTIONS);
  if (values.help === true) return null;
  if (positionals.length > 1)
    throw new UsageError(`one s3://bucket/prefix at most, got ${positionals.length}`);
  const manifest = values.manifest ?? null;
  if (positionals.length === 0 && manifest === null)
    throw new UsageError("give s3://bucket/prefix or --manifest FILE");
  let location: S3Location | null = null;
  if (positionals[0] !== undefined) {
    try {
      location = parseS3Url(positionals[0]);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  }
  const format = values.format?.toLowerCase();
  if (format !== undefined && !isOutputFormat(format)) {
    throw new UsageError(`--format must be one of ${OUTPUT_FORMATS.join(", ")}, got "${values.format}"`);
  }
  if (values.endpoint !== undefined && !URL.canParse(values.endpoint)) {
    throw new UsageError(`--endpoint must be a URL, got "${values.endpoint}"`);
  }
  let since: Date | undefined;
  if (values.since !== undefined) {
    try {
      since = parseSince(values.since, now);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  }
  const source =
    manifest !== null
      ? `manifest:${manifest.startsWith("s3://") ? manifest : resolve(manifest)}`
      : `s3://${location!.bucket}/${location!.prefix}`;
  const tag = createHash("sha256").update(source).digest("hex").slice(0, 8);
  const name = (location?.bucket ?? "manifest").replace(/[^A-Za-z0-9._-]/g, "_");
  return {
    location,
    manifest,
    source,
    endpoint: values.endpoint,
    concurrency: integerOption("concurrency", values.concurrency, { min: 1, max: 1024 }) ?? 8,
    restoreConcurrency:
      integerOption("restore-concurrency", values["restore-concurrency"], { min: 1, max: 64 }) ?? 2,
    dryRun: values["dry-run"] === true,
    skipQuality: integerOption("skip-quality", values["skip-quality"], { min: 1, max: 101 }),
    format: format as OutputFormat | undefined,
    include: values.include ?? [],
    exclude: values.exclude ?? [],
    since,
    redoStale: values["redo-stale"] === true,
    statePath: values.state ?? `unjpeg-backfill-${name}-${tag}.state.jsonl`,
    reportPath: values.report,
    retries: integerOption("retries", values.retries, { min: 1, max: 100 }) ?? 5,
    progressEverySeconds:
      integerOption("progress-every", values["progress-every"], { min: 1, max: 86_400 }) ?? 10,
  };
}
