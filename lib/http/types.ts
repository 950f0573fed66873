/**
 * The origin's own request and response: what every adapter (Lambda payload 2.0, node:http) translates
 * to and from. Header names are lower case.
 */
import type { OutputFormat } from "../config.js";
import type { HeaderTriage, SkippedOutcome } from "../storage/derive-types.js";
import type { ObjectHead } from "../storage/s3.js";

export interface OriginRequest {
  readonly method: string;
  /** The path as sent, still percent-encoded. */
  readonly path: string;
  /** The query string without `?`, as sent. */
  readonly query: string;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body?: Uint8Array;
  /** Aborted when the caller stops waiting (Lambda deadline, client gone). */
  readonly signal?: AbortSignal;
  /**
   * Epoch ms by which an answer must be on its way (Lambda: the deadline less a margin); a restore not done
   * by then is handed off and the original served as pending.
   */
  readonly answerBy?: number;
}

export interface OriginResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Uint8Array;
  /**
   * The S3 key holding exactly these bytes, when there is one: a Lambda adapter may redirect to a presigned
   * URL of it instead of sending a body over its response limit.
   */
  readonly storedKey?: string;
}

export type { ObjectHead } from "../storage/s3.js";

/** A stored object with its body unread: the origin's one shape for what it serves. */
export interface StoredObject extends ObjectHead {
  /** Reads the body; not called on a 304. */
  readonly read: () => Promise<Uint8Array>;
  /** Releases the unread body (a 304, a stale derivative). */
  readonly discard: () => void;
}

/**
 * What a restore through the origin's store came to: the derivative to serve (the one just written, or the
 * one another writer stored first), or the storage core's skip (lib/storage/derive-types.ts).
 */
export type OriginDerive =
  | {
      readonly action: "restored";
      readonly derivativeKey: string;
      readonly body: Uint8Array;
      readonly contentType: string;
      /** The derivative's metadata as stored (docs/CONTRACTS.md). */
      readonly metadata: Readonly<Record<string, string>>;
      /** Milliseconds this restore spent choosing the encoding and encoding, when it ran here. */
      readonly encodeMs?: number;
    }
  | Pick<SkippedOutcome, "action" | "reason" | "message" | "quality">;

/** One restore the origin asks for, with what it has already read, so nothing is asked of S3 twice. */
export interface OriginDeriveRequest {
  readonly key: string;
  readonly format: OutputFormat;
  readonly signal: AbortSignal;
  /** The source's HEAD this request made. */
  readonly source: ObjectHead;
  /** The derivative's key as this request found it (null: none); absent: not looked at. */
  readonly derivative?: ObjectHead | null;
  /** The header triage this request made of `source`, when it made one. */
  readonly triage?: HeaderTriage | null;
}

/**
 * The origin's view of the bucket, bound to lib/storage (and lib/restore for `derive`) by the adapters, and
 * faked in unit tests. The origin never builds keys or reads metadata conventions itself.
 */
export interface OriginStore {
  /** null: no such object. */
  headSource(key: string): Promise<ObjectHead | null>;
  /** The derivative of `sourceKey` in `format`, body unread; null: none stored. */
  getDerivative(sourceKey: string, format: OutputFormat): Promise<StoredObject | null>;
  getObject(key: string): Promise<StoredObject | null>;
  /** Whether a key names a derivative (by its name alone). */
  isDerivativeKey(key: string): boolean;
  /** A stored derivative is current for this source ETag and the running model. */
  isCurrent(derivative: ObjectHead, source: ObjectHead): boolean;
  /**
   * The restore's triage from the source's headers alone (a ranged GET): whether it would run, and on how
   * many pixels. null: no answer (the restore then decides). Absent: the origin does not estimate.
   */
  triage?(source: ObjectHead, format: OutputFormat): Promise<HeaderTriage | null>;
  /** Restore the source and PUT the derivative (nothing written on failure or abort). */
  derive(request: OriginDeriveRequest): Promise<OriginDerive>;
}

export interface ModelStatus {
  readonly loaded: boolean;
  /** `<id>@<version>` or null when the model cannot be read. */
  readonly model: string | null;
  readonly id: string | null;
  readonly version: string | null;
  readonly error?: string;
}
