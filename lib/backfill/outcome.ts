/**
 * One listed object through the one object-event policy, as the backfill loop wants it: a result to
 * journal, or an error carrying the failure's classification (the loop retries temporary ones and records
 * both). A listing's ETag and size go along, so an object that needs no work costs one ranged GET and no
 * HEADs.
 */
import type { Deriver } from "../storage/derive.js";
import {
  EventFailedError,
  type EventResult,
  handleObjectEvent,
  type ObjectEventOptions,
} from "../storage/object-event.js";
import type { ListedObject } from "./manifest.js";
import type { ProcessResult } from "./run.js";

/** The backfill loop's view of a result; a failed one is thrown (EventFailedError) for the loop to record. */
export function processResultOf(result: EventResult, listedSize?: number): ProcessResult {
  if (result.failure !== undefined)
    throw new EventFailedError(result.failure, `s3://${result.bucket}/${result.key}`);
  const derived = result.derived;
  const outcome =
    result.status === "written" ? "restored" : result.status === "would-write" ? "would-restore" : "skipped";
  return {
    outcome,
    ...(result.reason === undefined ? {} : { reason: result.reason }),
    quality: derived?.quality ?? null,
    bytesRead: derived?.bytesRead ?? 0,
    bytesWritten: derived?.action === "written" ? derived.output.byteLength : 0,
    ...(outcome === "would-restore" && listedSize !== undefined ? { sourceBytes: listedSize } : {}),
  };
}

export async function deriveListedObject(
  deriver: Deriver,
  object: ListedObject,
  signal: AbortSignal,
  options: Pick<ObjectEventOptions, "format" | "redoStale" | "dryRun"> = {},
): Promise<ProcessResult> {
  const listed =
    object.etag !== undefined && object.size !== undefined
      ? { eTag: object.etag, size: object.size }
      : undefined;
  const event = { change: "created", bucket: object.bucket, key: object.key, name: "backfill" } as const;
  const result = await handleObjectEvent(
    deriver,
    { ...event, ...(listed === undefined ? {} : { listed }) },
    {
      ...options,
      signal,
    },
  );
  return processResultOf(result, object.size);
}
