/**
 * The origin's own request and response: what every adapter (Lambda payload 2.0, node:http) translates
 * to and from. Header names are lower case.
 */
import type { OutputFormat } from "../config.js";
import type { SkipReason, TriageDecision } from "../restore/types.js";

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

/** What the origin needs to know of a stored object. Metadata keys are lower case, without `x-amz-meta-`. */
export interface ObjectHead {
  readonly key: string;
  readonly etag: string;
  readonly size: number;
  readonly contentType: string | undefined;
  readonly metadata: Readonly<Record<string, string>>;
  readonly versionId?: string;
}

export interface StoredObject extends ObjectHead {
  /** Reads the body; not called on a 304. */
  readonly read: () => Promise<Uint8Array>;
  /** Releases the unread body (a 304, a stale derivative). */
  readonly discard: () => void;
}

/** Why no derivative came back: a restore skip reason, or the storage core's own (lib/storage/derive.ts). */
export type DeriveSkip =
  | SkipReason
  | "gone"
  | "corrupt"
  | "format-limit"
  | "superseded"
  | "key-taken"
  | "key-too-long"
  | "other";

export type DeriveOutcome =
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
  | {
      readonly action: "skipped";
      readonly reason: DeriveSkip;
      readonly message: string;
      /** Estimated source quality, when known. */
      readonly quality: number | null;
    };

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
  /** Whether an object is a derivative (by its metadata). */
  isDerivative(head: ObjectHead): boolean;
  /** A stored derivative is current for this source ETag and the running model. */
  isCurrent(derivative: ObjectHead, source: ObjectHead): boolean;
  /**
   * The restore's triage from the source's headers alone (a ranged GET): whether it would run, and on how
   * many pixels. null: no answer (the restore then decides). Absent: the origin does not estimate.
   */
  triage?(source: ObjectHead, format: OutputFormat): Promise<TriageDecision | null>;
  /** GET the source, restore it, PUT the derivative (nothing written on failure or abort). */
  derive(sourceKey: string, format: OutputFormat, signal: AbortSignal): Promise<DeriveOutcome>;
}

export interface ModelStatus {
  readonly loaded: boolean;
  /** `<id>@<version>` or null when the model cannot be read. */
  readonly model: string | null;
  readonly id: string | null;
  readonly version: string | null;
  readonly error?: string;
}
