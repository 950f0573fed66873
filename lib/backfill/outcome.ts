/**
 * What one derive outcome means for bulk callers: the backfill report, S3 Batch Operations result codes
 * and the queue worker's delete-or-leave. A corrupt source, an image the configured format cannot hold, or
 * a derivative key held by a foreign object will not get better by retrying, yet needs an operator's eye:
 * those are permanent failures here, where the upload path treats them as skips.
 */
import { type DeriveOutcome, type DeriveRequest, type Deriver, deriveObject } from "../storage/derive.js";
import type { ListedObject } from "./manifest.js";
import type { ProcessResult } from "./run.js";

export type BulkStatus = "restored" | "would-restore" | "skipped" | "failed";

export interface BulkResult {
  readonly status: BulkStatus;
  /** Skip reason or failure code. */
  readonly reason?: string;
  /** One line for logs and Batch Operations result strings. */
  readonly summary: string;
}

const FAILURE_REASONS = new Set(["corrupt", "format-limit", "key-taken"]);

export function bulkResultOf(outcome: DeriveOutcome): BulkResult {
  const quality = outcome.quality === null ? "" : ` (quality ${outcome.quality})`;
  switch (outcome.action) {
    case "written":
      return {
        status: "restored",
        summary: `restored${quality} to ${outcome.derivativeKey} in ${Math.round(outcome.restoreMs)} ms${outcome.replaced ? ", replacing a stale one" : ""}`,
      };
    case "would-write":
      return { status: "would-restore", summary: `would restore${quality} to ${outcome.derivativeKey}` };
    case "skipped":
      return {
        status: FAILURE_REASONS.has(outcome.reason) ? "failed" : "skipped",
        reason: outcome.reason,
        summary: `${FAILURE_REASONS.has(outcome.reason) ? "failed" : "skipped"}: ${outcome.reason}${quality}: ${outcome.message}`,
      };
  }
}

/** The backfill loop's view; a failure outcome is thrown so the loop records it with its reason. */
export function processResultOf(outcome: DeriveOutcome, listedSize?: number): ProcessResult {
  const result = bulkResultOf(outcome);
  if (result.status === "failed") throw new BulkFailure(result.reason ?? "failed", result.summary);
  return {
    outcome: result.status === "would-restore" ? "would-restore" : result.status,
    ...(result.reason === undefined ? {} : { reason: result.reason }),
    quality: outcome.quality,
    bytesRead: outcome.bytesRead,
    bytesWritten: outcome.action === "written" ? outcome.output.byteLength : 0,
    ...(result.status === "would-restore" && listedSize !== undefined ? { sourceBytes: listedSize } : {}),
  };
}

/** A permanent, per-object failure that a derive outcome reported (not an exception from S3 or the model). */
export class BulkFailure extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = "BulkFailure";
    this.code = code;
  }
}

/**
 * One listed object through the storage core, as the backfill loop wants it. A listing's ETag and size go
 * along, so an object that needs no work costs one ranged GET and no HEADs.
 */
export async function deriveListedObject(
  deriver: Deriver,
  object: ListedObject,
  signal: AbortSignal,
  options: Pick<DeriveRequest, "format" | "redoStale" | "dryRun"> = {},
): Promise<ProcessResult> {
  const outcome = await deriveObject(deriver, {
    bucket: object.bucket,
    key: object.key,
    ...options,
    signal,
    ...(object.etag !== undefined && object.size !== undefined
      ? { listed: { eTag: object.etag, size: object.size } }
      : {}),
  });
  return processResultOf(outcome, object.size);
}
