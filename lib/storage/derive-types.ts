/**
 * The storage core's types: what it needs (Deriver), what it is asked (DeriveRequest) and what it answers
 * (DeriveOutcome). One family for every caller: the object-event policy, the CDN origin and the backfill.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import type { Config, OutputFormat } from "../config.js";
import type { RestoreOptions, RestoreOutcome, SkipReason, TriageDecision } from "../restore/types.js";
import type { KeyLimits } from "./keys.js";
import type { MultipartOptions, ObjectHead } from "./s3.js";

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
  /** Bytes read for triage before anything else (default HEADER_BYTES in source-read.ts, 64 KiB). */
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

/** The triage of one source version from its first bytes: the bytes read and what they decided. */
export interface HeaderTriage {
  /** The version the bytes are of (without quotes). */
  readonly eTag: string | undefined;
  readonly input: Uint8Array;
  readonly decision: TriageDecision;
}

/**
 * What a caller already asked S3 for this request (the CDN origin: the source's HEAD and the derivative's
 * GET, and the header triage it estimated from): the core uses it instead of asking again.
 */
export interface KnownObjects {
  readonly source: ObjectHead;
  /** The derivative's key as just seen (null: none there); absent: not looked at. */
  readonly derivative?: ObjectHead | null;
  /** The triage of `source`'s version, when the caller made it. */
  readonly triage?: HeaderTriage;
}

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
  /** Objects the caller has already looked at (the CDN origin). */
  readonly known?: KnownObjects;
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

export interface WrittenOutcome extends OutcomeBase {
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
  /** The derivative's metadata exactly as stored (docs/CONTRACTS.md), for callers that serve it. */
  readonly metadata: Readonly<Record<string, string>>;
  readonly inputBytes: number;
  /** Restore time as the restore reports it (also stored as `unjpeg-ms`). */
  readonly restoreMs: number;
  /** Wall time of the restore() call here (what the handler's overhead is measured against). */
  readonly restoreWallMs: number;
  readonly timings: Readonly<Record<string, number>>;
}

export interface SkippedOutcome extends OutcomeBase {
  readonly action: "skipped";
  readonly reason: DeriveSkipReason;
  readonly message: string;
  /** The source version that was judged (without quotes), when it was looked at. */
  readonly sourceETag?: string;
  /**
   * A derivative of an older version (or another model) found at the key while this version was skipped
   * for its content: the object-event policy decides whether it goes (object-event.ts).
   */
  readonly staleDerivative?: ObjectHead;
}

export type DeriveOutcome =
  | WrittenOutcome
  | (OutcomeBase & { readonly action: "would-write" })
  | SkippedOutcome;
