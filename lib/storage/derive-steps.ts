/**
 * One run of the storage core as ordered, named steps, each returning a skip or passing on what it found:
 * refuse by key → triage a listed object → look at the source and the derivative's key → triage the
 * source's headers → read the rest → restore → write (derive-write.ts). Each S3 object is asked once: what a caller already
 * knows (a listing, the CDN origin's HEAD, GET and triage) is used instead of asking again, and what was
 * written is returned, not read back. A CDN miss or an upload costs 1 source HEAD, 1 derivative HEAD (or
 * the origin's GET), 1 header GET, 1 GET of the rest (none for a file within the header bytes), 1 PUT; a
 * high-quality source's re-saved check adds 1 GET of the scan's start (docs/architecture.md, the counts).
 */
import type { OutputFormat } from "../config.js";
import { UnjpegError } from "../errors.js";
import { formatMisfit } from "../image/format-limits.js";
import { restoreOptionsFromConfig } from "../restore/options.js";
import type { RestoreOptions, RestoreOutcome } from "../restore/types.js";
import { ModelMismatchError, type SourceWatch } from "./derive.js";
import type {
  DeriveOutcome,
  DeriveRequest,
  Deriver,
  DeriveSkipReason,
  HeaderTriage,
  SkippedOutcome,
} from "./derive-types.js";
import { write } from "./derive-write.js";
import { derivativeKey, isDerivativeKey, isUnderSourcePrefixes, keyTooLong } from "./keys.js";
import { isCurrent, parseDerivativeMetadata, sourceRefusal } from "./metadata.js";
import { headObject, type ObjectHead, SourceChangedError } from "./s3.js";
import { readRest, type SourceReader, sourceReader, triageSource } from "./source-read.js";

/** A run's account of itself: what it read and the quality learnt so far, and how to say why it stops. */
export interface RunLog {
  readonly derivativeKey: string;
  /** Every reader of the source this run made (their bytes are the run's `bytesRead`). */
  readonly readers: SourceReader[];
  quality: number | null;
  bytesRead(): number;
  skip(reason: DeriveSkipReason, message: string, extra?: Partial<SkippedOutcome>): SkippedOutcome;
}

type Step<T> = Promise<T | SkippedOutcome>;
const isSkip = (value: unknown): value is SkippedOutcome =>
  typeof value === "object" && value !== null && (value as { action?: unknown }).action === "skipped";

export async function deriveOnce(
  deriver: Deriver,
  request: DeriveRequest,
  format: OutputFormat,
  watch: SourceWatch,
): Promise<DeriveOutcome> {
  const { bucket, key } = request;
  const log: RunLog = {
    derivativeKey: derivativeKey(key, format, deriver.config),
    readers: [],
    quality: null,
    bytesRead() {
      return this.readers.reduce((sum, reader) => sum + reader.bytesRead(), 0);
    },
    skip(reason, message, extra = {}) {
      return { ...outcomeBase(request, this), action: "skipped", reason, message, ...extra };
    },
  };
  const options: RestoreOptions = {
    ...restoreOptionsFromConfig(deriver.config, format),
    force: request.force,
    signal: request.signal,
  };
  try {
    const refused = refuseByKey(deriver, request, log);
    if (refused !== undefined) return refused;
    const listed = await triageListed(deriver, request, options, log);
    if (isSkip(listed)) return listed;
    const seen = await lookUp(deriver, request, log, watch);
    if (isSkip(seen)) return seen;
    const { source, existing, lookSeq } = seen;
    const reader = sourceReader(
      deriver.s3,
      { bucket, key, eTag: source.eTag, size: source.size },
      request.signal,
    );
    log.readers.push(reader);
    const earlier = [request.known?.triage, listed];
    const triage = await triageHeaders(
      deriver,
      { format, options, earlier },
      { source, existing, reader },
      log,
    );
    if (isSkip(triage)) return triage;
    if (request.dryRun === true) return { ...outcomeBase(request, log), action: "would-write" };
    const input = await readRest(reader, triage.input);
    // The one decision, made on the headers (with the re-saved check's finding), is the restore's: it
    // reads the headers for the model and decides nothing again.
    const decided = triage.decision.action === "restore" ? triage.decision : undefined;
    const restoreOptions = decided === undefined ? options : { ...options, decided };
    const restored = await runRestore(deriver, input, restoreOptions, log, { source, existing });
    if (isSkip(restored)) return restored;
    if (await watch.replaced(lookSeq, source.eTag))
      return log.skip("superseded", "a newer version of the source was seen here during restore");
    return await write(deriver, request, { source, existing, input, ...restored }, log);
  } catch (error) {
    if (error instanceof SourceChangedError) return log.skip("superseded", error.message);
    throw error;
  }
}

export const outcomeBase = (request: DeriveRequest, log: RunLog) => ({
  bucket: request.bucket,
  key: request.key,
  derivativeKey: log.derivativeKey,
  bytesRead: log.bytesRead(),
  quality: log.quality,
});

/** Refused by its name or place alone, before any request: the write at the end could never happen. */
function refuseByKey(deriver: Deriver, request: DeriveRequest, log: RunLog): SkippedOutcome | undefined {
  const { config } = deriver;
  const { bucket, key } = request;
  if (isDerivativeKey(key, config)) return log.skip("derivative", "the key names a derivative");
  if (config.bucket !== undefined && bucket !== config.bucket)
    return log.skip("other-bucket", `bucket "${bucket}" is not the configured "${config.bucket}"`);
  if (!isUnderSourcePrefixes(key, config.sourcePrefixes))
    return log.skip("outside-prefixes", `key is not under ${config.sourcePrefixes.join(", ")}`);
  const tooLong = keyTooLong(log.derivativeKey, deriver.keyLimits);
  if (tooLong !== null) return log.skip("key-too-long", `the derivative's key ${tooLong}`);
  return undefined;
}

/**
 * A listed object (ETag and size from a listing) is triaged from its first bytes before anything else, so
 * one that needs no work costs one ranged GET and no HEAD. No answer (changed, too large to look at) passes
 * on to the full path, which sees the object as it is now.
 */
async function triageListed(
  deriver: Deriver,
  request: DeriveRequest,
  options: RestoreOptions,
  log: RunLog,
): Step<HeaderTriage | undefined> {
  const { listed } = request;
  if (listed === undefined || request.force === true || listed.size > deriver.config.maxBytes)
    return undefined;
  if (listed.size === 0) return log.skip("not-jpeg", "the object is empty");
  const version = { bucket: request.bucket, key: request.key, eTag: listed.eTag, size: listed.size };
  const reader = sourceReader(deriver.s3, version, request.signal);
  log.readers.push(reader);
  try {
    const triage = await triageSource(reader, deriver.decide, options, {
      firstBytes: deriver.headerBytes,
      eTag: listed.eTag,
    });
    if (triage?.decision.action === "skip") {
      log.quality = triage.decision.quality;
      return log.skip(triage.decision.reason, triage.decision.message);
    }
    return triage;
  } catch (error) {
    if (error instanceof SourceChangedError) return undefined;
    throw error;
  }
}

interface Looked {
  readonly source: ObjectHead;
  /** The derivative's key as seen now: null when empty. */
  readonly existing: ObjectHead | null;
  /** The number of the look at the source (SourceWatch). */
  readonly lookSeq: number;
}

/** The source and the derivative's key, each asked once (or taken from the caller), and what they rule out. */
async function lookUp(
  deriver: Deriver,
  request: DeriveRequest,
  log: RunLog,
  watch: SourceWatch,
): Step<Looked> {
  const { s3, config, model } = deriver;
  const { bucket, key, known } = request;
  const [{ seq: lookSeq, head: source }, existing] = await Promise.all([
    watch.look(async () => known?.source ?? headObject(s3, bucket, key)),
    known?.derivative !== undefined ? known.derivative : headObject(s3, bucket, log.derivativeKey),
  ]);
  if (source === null) return log.skip("gone", "the source no longer exists");
  const refusal = sourceRefusal(source, config.maxBytes);
  if (refusal !== null) return log.skip(refusal.reason, refusal.message);
  const state = derivativeState(existing, source, model);
  if (state === "current") return log.skip("current", "a current derivative exists");
  if (state === "foreign")
    return log.skip("key-taken", `${log.derivativeKey} exists and was not written by unjpeg`);
  if (state === "stale" && request.redoStale === false)
    return log.skip("stale-kept", "a stale derivative exists");
  return { source, existing, lookSeq };
}

type DerivativeState = "none" | "current" | "stale" | "foreign";

export function derivativeState(
  existing: ObjectHead | null,
  source: ObjectHead,
  model: string,
): DerivativeState {
  if (existing === null) return "none";
  if (parseDerivativeMetadata(existing.metadata) === null) return "foreign";
  return isCurrent(existing, source, model) ? "current" : "stale";
}

/** A skip for the source's content: the stale derivative of an older version goes with it (object-event.ts). */
function contentSkip(
  log: RunLog,
  looked: { source: ObjectHead; existing: ObjectHead | null },
  reason: DeriveSkipReason,
  message: string,
): SkippedOutcome {
  const stale = looked.existing !== null && looked.source.eTag !== undefined;
  return log.skip(reason, message, {
    ...(looked.source.eTag === undefined ? {} : { sourceETag: looked.source.eTag }),
    ...(stale ? { staleDerivative: looked.existing! } : {}),
  });
}

/**
 * The decision from the source's headers: taken over from the caller or the listed triage when it is of
 * this very version, else read now (ranged GETs, more only when the headers run long). A format too small
 * for the image is found here, before the source is read whole.
 */
async function triageHeaders(
  deriver: Deriver,
  asked: {
    readonly format: OutputFormat;
    readonly options: RestoreOptions;
    /** Triages made before this run looked (the caller's, the listed one): used when of this version. */
    readonly earlier: readonly (HeaderTriage | undefined)[];
  },
  looked: { source: ObjectHead; existing: ObjectHead | null; reader: SourceReader },
  log: RunLog,
): Step<HeaderTriage> {
  const { format, options, earlier } = asked;
  const { source, reader } = looked;
  const eTag = source.eTag;
  let triage = earlier.find((t) => t !== undefined && eTag !== undefined && t.eTag === eTag);
  triage ??= await triageSource(reader, deriver.decide, options, { firstBytes: deriver.headerBytes, eTag });
  if (triage === undefined) throw new Error("unreachable: triage without a byte limit always answers");
  const { decision } = triage;
  if (decision.action === "skip") {
    log.quality = decision.quality;
    return contentSkip(log, looked, decision.reason, decision.message);
  }
  if (decision.action === "restore") {
    log.quality = decision.quality;
    const misfit = formatMisfit(format, decision.width, decision.height);
    if (misfit !== undefined) return contentSkip(log, looked, "format-limit", misfit);
  }
  return triage;
}

/** The restore, timed; input it refuses (truncated, malformed) is a `corrupt` skip, never a retry. */
async function runRestore(
  deriver: Deriver,
  input: Uint8Array,
  options: RestoreOptions,
  log: RunLog,
  looked: { source: ObjectHead; existing: ObjectHead | null },
): Step<{ restored: Extract<RestoreOutcome, { action: "restored" }>; restoreWallMs: number }> {
  let outcome: RestoreOutcome;
  const started = performance.now();
  try {
    outcome = await deriver.restore(input, options);
  } catch (error) {
    if (error instanceof UnjpegError && error.status < 500 && !options.signal?.aborted)
      return contentSkip(log, looked, "corrupt", `${error.message} [${error.code}]`);
    throw error;
  }
  const restoreWallMs = performance.now() - started;
  log.quality = outcome.description.quality ?? log.quality;
  if (outcome.action === "skipped") return contentSkip(log, looked, outcome.reason, outcome.message);
  // One tag for what is stored and what staleness compares against, or no write at all.
  if (outcome.description.model !== null && outcome.description.model !== deriver.model)
    throw new ModelMismatchError(deriver.model, outcome.description.model);
  return { restored: outcome, restoreWallMs };
}
