/**
 * The one object-event policy: what unjpeg does with a change to one object, for every consumer (the upload
 * function, the queue worker function, `unjpeg worker`, S3 Batch Operations, the backfill). Created →
 * derive; removed → delete its derivatives; anything else → ignored. A source version skipped for its
 * content (high quality, corrupt, unsupported, too large, too large for the format) takes the stale
 * derivative of an older version with it. The result never throws: it is written, would-write, skipped
 * (with its reason), deleted, ignored, or failed with the one classification of failure.ts (temporary:
 * retried; permanent: left to an operator). Consumers only map it onto their own answer; the table of what
 * each does with each row is docs/CONTRACTS.md, Failures.
 */
import type { OutputFormat } from "../config.js";
import { UnjpegError } from "../errors.js";
import { type DeriveOutcome, type Deriver, deriveObject } from "./derive.js";
import type { ObjectChange } from "./events.js";
import { type ClassifiedFailure, classifyFailure } from "./failure.js";
import { type RemoveOutcome, removeDerivatives, removeStaleDerivative } from "./remove.js";

/** One object change, from whichever consumer it came. */
export interface ObjectEventRequest {
  readonly change: ObjectChange;
  readonly bucket: string;
  readonly key: string;
  /** The event's own name (`ObjectCreated:Put`, `Object Created`, a Batch task), for the record. */
  readonly name?: string;
  /** The version the event is about (without quotes), when it names one. */
  readonly eTag?: string;
  /** ETag and size from a listing (the backfill): triage before any HEAD. */
  readonly listed?: { readonly eTag: string; readonly size: number };
}

/** How the consumer asked (Batch Operations' user arguments, the backfill's and the worker's flags). */
export interface ObjectEventOptions {
  readonly signal?: AbortSignal;
  readonly format?: OutputFormat;
  readonly force?: boolean;
  /** Redo derivatives made by another model or from an older source (default true). */
  readonly redoStale?: boolean;
  readonly dryRun?: boolean;
}

export type EventStatus = "written" | "would-write" | "skipped" | "deleted" | "ignored" | "failed";

export interface EventResult {
  readonly status: EventStatus;
  readonly bucket: string;
  readonly key: string;
  readonly name?: string;
  /** The skip reason, or the failure's code. */
  readonly reason?: string;
  readonly message?: string;
  /** Failed: temporary (retried) or permanent (an operator's), with its code. */
  readonly failure?: ClassifiedFailure;
  /** Created events: what the storage core did. */
  readonly derived?: DeriveOutcome;
  /** Removed events: the derivatives deleted. */
  readonly deleted?: readonly string[];
  /** A skipped version's stale derivative (of an older version) that was deleted. */
  readonly staleDeleted?: string;
}

/**
 * Skip reasons about the source version's content: it gets no derivative, so an older version's derivative
 * beside it goes (removeStaleDerivative guards the race).
 */
export const CONTENT_SKIPS: ReadonlySet<string> = new Set([
  "high-quality",
  "not-jpeg",
  "too-large",
  "unsupported",
  "corrupt",
  "format-limit",
]);

/** The invocation's deadline passed before this event was started: a retry does it. */
export class DeadlineError extends UnjpegError {
  constructor() {
    super("DEADLINE", "the invocation's deadline came before this event was started", { status: 503 });
  }
}

/** Handles one object event by the policy above. Never throws: a failure is a `failed` result. */
export async function handleObjectEvent(
  deriver: Deriver,
  event: ObjectEventRequest,
  options: ObjectEventOptions = {},
): Promise<EventResult> {
  const fields = {
    bucket: event.bucket,
    key: event.key,
    ...(event.name === undefined ? {} : { name: event.name }),
  };
  try {
    if (options.signal?.aborted) throw new DeadlineError();
    switch (event.change) {
      case "created":
        return { ...fields, ...(await created(deriver, event, options)) };
      case "removed":
        return { ...fields, ...fromRemove(await removeDerivatives(deriver, event)) };
      default:
        return {
          ...fields,
          status: "ignored",
          reason: "event-type",
          message: `${event.name ?? "the event"} needs no work`,
        };
    }
  } catch (error) {
    return { ...fields, ...failedResult(error) };
  }
}

/** A failure as a result, classified once (failure.ts). */
export function failedResult(error: unknown): Pick<EventResult, "status" | "reason" | "message" | "failure"> {
  const failure = classifyFailure(error);
  return { status: "failed", reason: failure.code, message: failure.message, failure };
}

async function created(
  deriver: Deriver,
  event: ObjectEventRequest,
  options: ObjectEventOptions,
): Promise<Omit<EventResult, "bucket" | "key" | "name">> {
  const derived = await deriveObject(deriver, {
    bucket: event.bucket,
    key: event.key,
    ...(event.eTag === undefined ? {} : { eTag: event.eTag }),
    ...(event.listed === undefined ? {} : { listed: event.listed }),
    ...options,
  });
  if (derived.action !== "skipped") return { status: derived.action, derived };
  const result = { status: "skipped", reason: derived.reason, message: derived.message, derived } as const;
  const stale = derived.staleDerivative;
  if (!CONTENT_SKIPS.has(derived.reason) || stale === undefined || derived.sourceETag === undefined)
    return result;
  if (options.dryRun === true) return result;
  const staleDeleted = await removeStaleDerivative(deriver, {
    bucket: event.bucket,
    key: event.key,
    skippedETag: derived.sourceETag,
    derivative: stale,
  });
  return staleDeleted === null ? result : { ...result, staleDeleted };
}

function fromRemove(outcome: RemoveOutcome): Omit<EventResult, "bucket" | "key" | "name"> {
  if (outcome.action === "skipped")
    return { status: "skipped", reason: outcome.reason, message: outcome.message };
  return { status: "deleted", deleted: outcome.deleted };
}

/** One line for logs, queue summaries and Batch Operations result strings. */
export function summaryOf(result: EventResult): string {
  const derived = result.derived;
  const quality = derived?.quality === null || derived === undefined ? "" : ` (quality ${derived.quality})`;
  switch (result.status) {
    case "written": {
      const w = derived as Extract<DeriveOutcome, { action: "written" }>;
      return `restored${quality} to ${w.derivativeKey} in ${Math.round(w.restoreMs)} ms${w.replaced ? ", replacing a stale one" : ""}`;
    }
    case "would-write":
      return `would restore${quality} to ${derived?.derivativeKey}`;
    case "skipped": {
      const stale =
        result.staleDeleted === undefined ? "" : `; deleted the older version's ${result.staleDeleted}`;
      return `skipped: ${result.reason}${quality}: ${result.message}${stale}`;
    }
    case "deleted":
      return `deleted ${result.deleted?.length ?? 0} derivative(s)`;
    case "ignored":
      return `ignored ${result.name ?? "event"}`;
    case "failed":
      return `failed (${result.failure?.kind}, ${result.reason}): ${result.message}`;
  }
}

/**
 * A failed result as an error, for loops that retry and record by throwing (the backfill, the queue
 * worker): it carries the classification (`retryable`, the code), so classifyFailure reads it back as is.
 */
export class EventFailedError extends UnjpegError {
  readonly retryable: boolean;
  constructor(failure: ClassifiedFailure, where: string) {
    super(failure.code, `${where}: ${failure.message}`, { status: failure.kind === "temporary" ? 503 : 500 });
    this.retryable = failure.kind === "temporary";
  }
}
