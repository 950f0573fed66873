/**
 * The one "process this object" core, shared by the upload handler, the CDN origin, the backfill and the
 * queue worker: given a bucket and key, decide from the headers, restore, and write the derivative beside
 * the source with one PutObject (multipart when large; atomic either way: whole or nothing). Idempotent: a
 * current derivative means no work, so duplicate and out-of-order events are harmless; the write is
 * conditional (write.ts), so of two processes racing on one object only one stores. It always works on the
 * object as it is now, whatever version an event named; a newer upload's own event replaces the derivative.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import type { Config, OutputFormat } from "../config.js";
import { UnjpegError } from "../errors.js";
import { formatMisfit } from "../image/format-limits.js";
import type { Recompression } from "../jpeg/index.js";
import { restoreOptionsFromConfig } from "../restore/options.js";
import type { RestoreOptions, RestoreOutcome, SkipReason, TriageDecision } from "../restore/types.js";
import {
  allDerivativeKeys,
  derivativeKey,
  isDerivativeKey,
  isUnderSourcePrefixes,
  type KeyLimits,
  keyTooLong,
} from "./keys.js";
import {
  buildDerivativeMetadata,
  DERIVATIVE_CACHE_CONTROL,
  hasDerivativeMarker,
  isCurrent,
  parseDerivativeMetadata,
} from "./metadata.js";
import {
  deleteObject,
  getObjectRange,
  headObject,
  type MultipartOptions,
  type ObjectHead,
  putObject,
  SourceChangedError,
} from "./s3.js";
import { WriteRaceLostError, writeCondition } from "./write.js";

export type RestoreFunction = (input: Uint8Array, options: RestoreOptions) => Promise<RestoreOutcome>;
/** `totalBytes`: the object's size, so a file that ends inside its headers is told apart from a prefix. */
export type DecideFunction = (
  header: Uint8Array,
  options: RestoreOptions & { readonly totalBytes?: number },
) => TriageDecision | Promise<TriageDecision>;

/** What the core needs; built once per process (cold start) and reused for every object. */
export interface Deriver {
  readonly s3: S3Client;
  readonly config: Config;
  readonly restore: RestoreFunction;
  readonly decide: DecideFunction;
  /** `<id>@<version>` of the model `restore` runs: stored on derivatives, compared for staleness. */
  readonly model: string;
  /** Bytes read for triage before anything else (default 64 KiB). */
  readonly headerBytes?: number;
  /** When derivatives go up in parts (default DEFAULT_MULTIPART in s3.ts). */
  readonly multipart?: MultipartOptions;
  /** What the store takes beyond S3's 1,024-byte keys (the local stack's; default: nothing more). */
  readonly keyLimits?: KeyLimits;
}

/** Why an object got no new derivative. Stable strings: they appear in logs and metrics. */
export type DeriveSkipReason =
  | SkipReason
  | "current" // a derivative of this source version by this model exists
  | "stale-kept" // a stale derivative exists and the caller asked not to redo it
  | "superseded" // the source changed while we worked; its newer event does the work
  | "raced" // another writer stored the derivative between our last look and our write (412)
  | "gone" // the source no longer exists
  | "other-bucket" // not UNJPEG_BUCKET
  | "outside-prefixes" // not under UNJPEG_SOURCE_PREFIXES
  | "key-taken" // the derivative's key holds an object unjpeg did not write
  | "key-too-long" // the derivative's key would be longer than the store takes
  | "corrupt" // not decodable (truncated, malformed)
  | "format-limit" // the output format cannot hold the image's size (lib/image/format-limits.ts)
  | "duplicate"; // the same version of the object is already being processed in this process

export interface DeriveRequest {
  readonly bucket: string;
  readonly key: string;
  /** Default: the configured format. */
  readonly format?: OutputFormat;
  /** Restore even when the source is already of high quality. */
  readonly force?: boolean;
  /** Redo a derivative made from an older source or by another model (default true). */
  readonly redoStale?: boolean;
  /** Triage only: say whether a derivative would be written, read no more than the headers. */
  readonly dryRun?: boolean;
  readonly signal?: AbortSignal;
  /**
   * The version of the source this request is about (an event's ETag, without quotes), when the caller
   * knows it: concurrent requests share a run only when they are about the same version.
   */
  readonly eTag?: string;
  /**
   * ETag and size already known from a listing or an inventory (the backfill): triage runs first, so an
   * object that needs no work costs one ranged GET and no HEADs; the checks below follow only for the rest.
   */
  readonly listed?: { readonly eTag: string; readonly size: number };
}

interface OutcomeBase {
  readonly bucket: string;
  readonly key: string;
  readonly derivativeKey: string;
  /** Source bytes read from S3 for this decision. */
  readonly bytesRead: number;
  /** Estimated source quality, when known. */
  readonly quality: number | null;
}

export type DeriveOutcome =
  | (OutcomeBase & {
      readonly action: "written";
      /** A stale derivative was replaced. */
      readonly replaced: boolean;
      readonly sourceETag: string;
      readonly model: string;
      readonly format: OutputFormat;
      readonly contentType: string;
      /** The encoder setting written (also stored as `unjpeg-encode`). */
      readonly encoding: string | undefined;
      readonly output: Uint8Array;
      readonly inputBytes: number;
      /** Restore time as the restore reports it (also stored as `unjpeg-ms`). */
      readonly restoreMs: number;
      /** Wall time of the restore() call here (what the handler's overhead is measured against). */
      readonly restoreWallMs: number;
      readonly timings: Readonly<Record<string, number>>;
    })
  | (OutcomeBase & { readonly action: "would-write" })
  | (OutcomeBase & {
      readonly action: "skipped";
      readonly reason: DeriveSkipReason;
      readonly message: string;
    });

const DEFAULT_HEADER_BYTES = 64 * 1024;

/**
 * The restore ran another model than the deriver's `model`. Derivatives record one tag and staleness
 * compares against the other, so writing would make every derivative stale again at once (endless
 * re-restores): a setup error, never retried into a loop.
 */
export class ModelMismatchError extends UnjpegError {
  constructor(expected: string, actual: string) {
    super(
      "MODEL_MISMATCH",
      `the restore ran model ${actual}, but derivatives are checked against ${expected}: fix the deriver's model`,
      { status: 500, publicMessage: "model configuration mismatch" },
    );
  }
}
/** Runs in progress, per S3 client (one per endpoint and process), by bucket, key, format, mode and version. */
const inFlightByClient = new WeakMap<S3Client, Map<string, Promise<DeriveOutcome>>>();

/**
 * Makes sure the object has a current derivative. Concurrent calls for the same object, format and source
 * version in this process share one run: the later ones get a `duplicate` skip and write nothing. Calls
 * about different versions (two quick uploads of one key) each run: the older one's run ends `superseded`
 * and the newer one's writes, so the newest version always gets its derivative. A call that names no
 * version asks for the object as it is now: when the run it shared ended `superseded`, it runs again.
 */
export async function deriveObject(deriver: Deriver, request: DeriveRequest): Promise<DeriveOutcome> {
  const format = request.format ?? deriver.config.format;
  const version = request.eTag ?? request.listed?.eTag;
  const id = [request.bucket, request.key, format, request.dryRun === true, version ?? ""].join("\n");
  let inFlight = inFlightByClient.get(deriver.s3);
  if (inFlight === undefined) {
    inFlight = new Map();
    inFlightByClient.set(deriver.s3, inFlight);
  }
  const running = inFlight.get(id);
  if (running !== undefined) {
    const first = await running;
    if (version === undefined && first.action === "skipped" && first.reason === "superseded")
      return deriveObject(deriver, request);
    return {
      ...base(first),
      bytesRead: 0,
      action: "skipped",
      reason: "duplicate",
      message: `already being processed here (it ended: ${first.action})`,
    };
  }
  const runs = inFlight;
  const run = deriveOnce(deriver, request, format).finally(() => runs.delete(id));
  inFlight.set(id, run);
  return run;
}

const base = (o: OutcomeBase): OutcomeBase => ({
  bucket: o.bucket,
  key: o.key,
  derivativeKey: o.derivativeKey,
  bytesRead: o.bytesRead,
  quality: o.quality,
});

async function deriveOnce(
  deriver: Deriver,
  request: DeriveRequest,
  format: OutputFormat,
): Promise<DeriveOutcome> {
  const { s3, config, model } = deriver;
  const { bucket, key, signal } = request;
  const target = derivativeKey(key, format, config);
  let bytesRead = 0;
  let quality: number | null = null;
  const skip = (reason: DeriveSkipReason, message: string): DeriveOutcome => ({
    action: "skipped",
    reason,
    message,
    bucket,
    key,
    derivativeKey: target,
    bytesRead,
    quality,
  });

  if (isDerivativeKey(key, config)) return skip("derivative", "the key names a derivative");
  if (config.bucket !== undefined && bucket !== config.bucket) {
    return skip("other-bucket", `bucket "${bucket}" is not the configured "${config.bucket}"`);
  }
  if (!isUnderSourcePrefixes(key, config.sourcePrefixes)) {
    return skip("outside-prefixes", `key is not under ${config.sourcePrefixes.join(", ")}`);
  }
  // Before any read or restore: the write at the end could never succeed.
  const tooLong = keyTooLong(target, deriver.keyLimits);
  if (tooLong !== null) return skip("key-too-long", `the derivative's key ${tooLong}`);
  const options: RestoreOptions = {
    ...restoreOptionsFromConfig(config, format),
    force: request.force,
    signal,
  };
  // The listed object's first bytes, when the early triage read them: reused below if it is still that object.
  let listedPrefix:
    | { readonly eTag: string; readonly bytes: Uint8Array; readonly recompressed?: Recompression }
    | undefined;
  if (request.listed !== undefined && request.force !== true) {
    const early = await triageHeaders(deriver, bucket, key, request.listed, options);
    bytesRead += early.bytesRead;
    if (early.decision?.action === "skip") {
      quality = early.decision.quality;
      return skip(early.decision.reason, early.decision.message);
    }
    if (early.input !== null) {
      const recompressed = early.decision?.action === "restore" ? early.decision.recompressed : undefined;
      listedPrefix = { eTag: request.listed.eTag, bytes: early.input, ...(recompressed && { recompressed }) };
    }
  }
  const [source, existing] = await Promise.all([headObject(s3, bucket, key), headObject(s3, bucket, target)]);
  if (source === null) return skip("gone", "the source no longer exists");
  if (hasDerivativeMarker(source.metadata))
    return skip("derivative", "the object carries unjpeg-derivative metadata");
  if (source.size > config.maxBytes) {
    return skip("too-large", `${source.size} bytes is over UNJPEG_MAX_BYTES (${config.maxBytes})`);
  }
  if (source.size === 0) return skip("not-jpeg", "the object is empty");
  const state = derivativeState(existing, source, model);
  if (state === "current") return skip("current", "a current derivative exists");
  if (state === "foreign") return skip("key-taken", `${target} exists and was not written by unjpeg`);
  if (state === "stale" && request.redoStale === false)
    return skip("stale-kept", "a stale derivative exists");

  const eTag = source.eTag;
  const read = async (start: number, end: number | undefined): Promise<Uint8Array> => {
    signal?.throwIfAborted();
    const bytes = await getObjectRange(s3, bucket, key, { start, end, eTag, maxBytes: source.size - start });
    if (bytes === null) throw new SourceChangedError(bucket, key);
    bytesRead += bytes.byteLength;
    return bytes;
  };

  try {
    // Triage from the headers; ask for more only when the decision needs it (large EXIF/ICC segments).
    // Bytes the listed triage already read are the same object's when its ETag is unchanged: only the
    // rest is fetched (ranged, from where they end, with If-Match on that ETag).
    // Likewise what the listed triage's re-saved check found in them.
    const reused = listedPrefix !== undefined && eTag !== undefined && listedPrefix.eTag === eTag;
    let input = reused
      ? listedPrefix!.bytes.subarray(0, source.size)
      : await read(0, Math.min(deriver.headerBytes ?? DEFAULT_HEADER_BYTES, source.size) - 1);
    const known = reused ? listedPrefix!.recompressed : undefined;
    const decideOptions = { ...options, totalBytes: source.size, ...(known && { recompressed: known }) };
    let decision = await deriver.decide(input, decideOptions);
    while (decision.action === "need-more-bytes" && input.byteLength < source.size) {
      const want = Math.min(source.size, Math.max(decision.atLeast, input.byteLength * 2));
      input = concat(input, await read(input.byteLength, want - 1), want);
      decision = await deriver.decide(input, decideOptions);
    }
    if (decision.action === "skip") {
      quality = decision.quality;
      return skip(decision.reason, decision.message);
    }
    if (decision.action === "restore") {
      quality = decision.quality;
      // Before the source is read whole: a format too small for the image never will fit it.
      const misfit = formatMisfit(format, decision.width, decision.height);
      if (misfit !== undefined) return skip("format-limit", misfit);
    }
    if (request.dryRun === true) {
      return { action: "would-write", bucket, key, derivativeKey: target, bytesRead, quality };
    }
    if (input.byteLength < source.size)
      input = concat(input, await read(input.byteLength, undefined), source.size);

    let outcome: RestoreOutcome;
    let restoreWallMs = 0;
    try {
      const restoreStarted = performance.now();
      // The re-saved check's finding on the prefix is the restore's: not looked for again in the whole file.
      const recompressed = decision.action === "restore" ? decision.recompressed : undefined;
      outcome = await deriver.restore(
        input,
        recompressed === undefined ? options : { ...options, recompressed },
      );
      restoreWallMs = performance.now() - restoreStarted;
    } catch (error) {
      // Bad input (a truncated or malformed file) will never restore: a skip with the reason, not a retry.
      if (error instanceof UnjpegError && error.status < 500 && !signal?.aborted) {
        return skip("corrupt", `${error.message} [${error.code}]`);
      }
      throw error;
    }
    quality = outcome.description.quality ?? quality;
    if (outcome.action === "skipped") return skip(outcome.reason, outcome.message);

    // Just before writing: a newer upload, or a twin run elsewhere that already finished, wins.
    const [sourceNow, targetNow] = await Promise.all([
      headObject(s3, bucket, key),
      headObject(s3, bucket, target),
    ]);
    if (sourceNow === null || sourceNow.eTag !== eTag)
      return skip("superseded", "the source changed during restore");
    const stateNow = derivativeState(targetNow, source, model);
    if (stateNow === "current") return skip("current", "a current derivative appeared during restore");
    if (stateNow === "foreign")
      return skip("key-taken", `${target} was written by someone else during restore`);
    // One tag for what is stored and what staleness compares against, or no write at all.
    if (outcome.description.model !== null && outcome.description.model !== model) {
      throw new ModelMismatchError(model, outcome.description.model);
    }
    signal?.throwIfAborted();
    // Conditional on what that last look saw (write.ts): of two racing writers, only one stores.
    await putObject(s3, {
      bucket,
      key: target,
      body: outcome.output,
      contentType: outcome.contentType,
      cacheControl: DERIVATIVE_CACHE_CONTROL,
      condition: writeCondition(targetNow),
      multipart: deriver.multipart,
      metadata: buildDerivativeMetadata({
        sourceKey: key,
        sourceETag: eTag ?? "",
        sourceVersion: source.versionId,
        quality,
        earlierQuality: outcome.description.recompressed?.quality,
        model,
        restoreMs: outcome.description.totalMs,
        encoding: outcome.description.encoding,
      }),
    });
    return {
      action: "written",
      bucket,
      key,
      derivativeKey: target,
      bytesRead,
      quality,
      replaced: state === "stale",
      sourceETag: eTag ?? "",
      model,
      format: outcome.format,
      contentType: outcome.contentType,
      encoding: outcome.description.encoding,
      output: outcome.output,
      inputBytes: input.byteLength,
      restoreMs: outcome.description.totalMs,
      restoreWallMs,
      timings: outcome.description.timings,
    };
  } catch (error) {
    if (error instanceof SourceChangedError) return skip("superseded", error.message);
    if (error instanceof WriteRaceLostError) return skip("raced", error.message);
    throw error;
  }
}

type DerivativeState = "none" | "current" | "stale" | "foreign";

function derivativeState(existing: ObjectHead | null, source: ObjectHead, model: string): DerivativeState {
  if (existing === null) return "none";
  if (parseDerivativeMetadata(existing.metadata) === null) return "foreign";
  return isCurrent(existing, source, model) ? "current" : "stale";
}

/**
 * Triage from an object's first bytes, given its ETag (from a listing or a HEAD) and size, without HEADs
 * of its own: ranged GETs under If-Match, more only when the decision needs it, at most `maxRead` bytes.
 * A changed or vanished object, or headers longer than `maxRead`, give no decision (the full path then
 * sees the object as it is now); an empty one is no JPEG. `input`: the bytes read, which the full path
 * reuses when the object still has that ETag.
 */
export async function triageHeaders(
  deriver: Deriver,
  bucket: string,
  key: string,
  listed: { readonly eTag: string | undefined; readonly size: number },
  options: RestoreOptions,
  maxRead: number = listed.size,
): Promise<{ decision: TriageDecision | null; bytesRead: number; input: Uint8Array | null }> {
  if (listed.size === 0) {
    return {
      decision: { action: "skip", reason: "not-jpeg", message: "the object is empty", quality: null },
      bytesRead: 0,
      input: null,
    };
  }
  if (listed.size > deriver.config.maxBytes) return { decision: null, bytesRead: 0, input: null };
  let bytesRead = 0;
  const read = async (start: number, end: number | undefined): Promise<Uint8Array | null> => {
    options.signal?.throwIfAborted();
    const maxBytes = listed.size - start;
    const bytes = await getObjectRange(deriver.s3, bucket, key, { start, end, eTag: listed.eTag, maxBytes });
    bytesRead += bytes?.byteLength ?? 0;
    return bytes;
  };
  try {
    const first = Math.min(deriver.headerBytes ?? DEFAULT_HEADER_BYTES, listed.size, maxRead);
    let input = await read(0, first - 1);
    if (input === null) return { decision: null, bytesRead, input: null };
    let decision = await deriver.decide(input, { ...options, totalBytes: listed.size });
    while (decision.action === "need-more-bytes" && input.byteLength < listed.size) {
      const want = Math.min(listed.size, Math.max(decision.atLeast, input.byteLength * 2));
      if (want > maxRead) return { decision: null, bytesRead, input: null };
      const more = await read(input.byteLength, want - 1);
      if (more === null) return { decision: null, bytesRead, input: null };
      input = concat(input, more, want);
      decision = await deriver.decide(input, { ...options, totalBytes: listed.size });
    }
    return { decision, bytesRead, input };
  } catch (error) {
    if (error instanceof SourceChangedError) return { decision: null, bytesRead, input: null };
    throw error;
  }
}

function concat(head: Uint8Array, tail: Uint8Array, total: number): Uint8Array {
  const out = new Uint8Array(total);
  out.set(head, 0);
  out.set(tail.subarray(0, total - head.byteLength), head.byteLength);
  return out;
}

export type RemoveOutcome =
  | { readonly action: "deleted"; readonly bucket: string; readonly key: string; readonly deleted: string[] }
  | {
      readonly action: "skipped";
      readonly bucket: string;
      readonly key: string;
      readonly reason: "derivative" | "source-exists";
      readonly message: string;
    };

/**
 * After a source is removed, deletes its derivatives (every format), but only objects unjpeg wrote for this
 * very key, and only if the source is really gone (a re-upload may have overtaken the delete event).
 */
export async function removeDerivatives(
  deriver: Pick<Deriver, "s3" | "config">,
  request: { readonly bucket: string; readonly key: string },
): Promise<RemoveOutcome> {
  const { s3, config } = deriver;
  const { bucket, key } = request;
  if (isDerivativeKey(key, config)) {
    return { action: "skipped", bucket, key, reason: "derivative", message: "the key names a derivative" };
  }
  if ((await headObject(s3, bucket, key)) !== null) {
    return { action: "skipped", bucket, key, reason: "source-exists", message: "the source exists again" };
  }
  const deleted: string[] = [];
  for (const candidate of allDerivativeKeys(key, config)) {
    const head = await headObject(s3, bucket, candidate);
    if (parseDerivativeMetadata(head?.metadata)?.sourceKey !== key) continue;
    await deleteObject(s3, bucket, candidate);
    deleted.push(candidate);
  }
  return { action: "deleted", bucket, key, deleted };
}
