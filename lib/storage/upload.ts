/**
 * The Lambda consumers of object events (the upload function and the queue worker function), without
 * Lambda types: turns an invocation (S3 notifications, EventBridge events, or SQS messages carrying either)
 * into calls of the one object-event policy, one decision line each, and says which units failed so that
 * only those are retried.
 */
import { UnjpegError } from "../errors.js";
import type { Deriver, WrittenOutcome } from "./derive.js";
import { classifyInvocation, type EventUnit } from "./events.js";
import { type EventResult, failedResult, handleObjectEvent } from "./object-event.js";
import { type Decision, decisionLine, type LineSink, stdoutSink } from "./report.js";

export interface UploadOptions {
  /** Where decision lines go (default stdout). */
  readonly sink?: LineSink;
  /** The `Service` dimension of the metrics (default `s3-upload`). */
  readonly service?: string;
  /** Aborted: stop starting new work; what has not finished is reported as failed, for a retry. */
  readonly signal?: AbortSignal;
  /** Units processed at once (default 1: restores are CPU-bound and memory-heavy). */
  readonly concurrency?: number;
}

export interface UploadResult {
  readonly kind: "sqs" | "direct";
  /** Ids of the units that failed (SQS message ids for `batchItemFailures`). */
  readonly failed: string[];
  readonly decisions: Decision[];
}

/** A direct invocation with failed records: retried as a whole (derivatives already written are then current). */
export class UploadBatchError extends UnjpegError {
  constructor(failed: readonly string[]) {
    super(
      "UPLOAD_FAILED",
      `${failed.length} record(s) failed (${failed.join(", ")}); see the decision lines`,
    );
  }
}

/**
 * What an invocation answers: SQS batches, their partial batch failures (only those messages come back);
 * a direct invocation, nothing, or an UploadBatchError when a record failed.
 */
export function invocationAnswer(
  result: UploadResult,
): { batchItemFailures: { itemIdentifier: string }[] } | undefined {
  if (result.kind === "sqs") {
    return { batchItemFailures: result.failed.map((itemIdentifier) => ({ itemIdentifier })) };
  }
  if (result.failed.length > 0) throw new UploadBatchError(result.failed);
  return undefined;
}

/** Handles one invocation. Never throws for a bad record: it is a failed unit (or a logged skip). */
export async function handleUploadEvent(
  deriver: Deriver,
  event: unknown,
  options: UploadOptions = {},
): Promise<UploadResult> {
  const invocation = classifyInvocation(event);
  const sink = options.sink ?? stdoutSink;
  const service = options.service ?? "s3-upload";
  const decisions: Decision[] = [];
  const record = (decision: Decision) => {
    decisions.push(decision);
    sink(decisionLine(decision, service), decision);
  };
  const failed = new Set<string>();

  const runUnit = async (unit: EventUnit) => {
    if (!Array.isArray(unit.events)) {
      record(decisionOf({ bucket: "", key: "", ...failedResult(unit.events) }, { unit: unit.id }));
      failed.add(unit.id);
      return;
    }
    for (const objectEvent of unit.events) {
      const started = performance.now();
      const result = await handleObjectEvent(deriver, objectEvent, { signal: options.signal });
      const ms = result.status === "failed" ? {} : { ms: Math.round(performance.now() - started) };
      record(decisionOf(result, { ...ms, unit: unit.id }));
      if (result.status === "failed") failed.add(unit.id);
    }
  };

  const queue = [...invocation.units];
  const workers = Array.from({ length: Math.max(1, options.concurrency ?? 1) }, async () => {
    for (let unit = queue.shift(); unit !== undefined; unit = queue.shift()) await runUnit(unit);
  });
  await Promise.all(workers);
  return {
    kind: invocation.kind,
    failed: invocation.units.map((u) => u.id).filter((id) => failed.has(id)),
    decisions,
  };
}

/** The decision line's fields for one result of the object-event policy. */
export function decisionOf(result: EventResult, extra: Record<string, unknown> = {}): Decision {
  const fields = {
    ...(result.bucket === "" ? {} : { bucket: result.bucket, key: result.key }),
    ...(result.name === undefined ? {} : { event: result.name }),
  };
  const derived = result.derived;
  const common =
    derived === undefined
      ? {}
      : { derivativeKey: derived.derivativeKey, quality: derived.quality, bytesRead: derived.bytesRead };
  switch (result.status) {
    case "written": {
      const w = derived as WrittenOutcome;
      return {
        ...fields,
        ...extra,
        ...common,
        action: "written",
        replaced: w.replaced,
        model: w.model,
        restoreMs: w.restoreMs,
        restoreWallMs: Math.round(w.restoreWallMs),
        timings: w.timings,
        bytesWritten: w.output.byteLength,
      };
    }
    case "failed":
      return {
        ...fields,
        ...extra,
        action: "failed",
        reason: result.reason,
        message: result.message,
        retryable: result.failure?.kind === "temporary",
      };
    case "deleted":
      return { ...fields, ...extra, action: "deleted", deleted: result.deleted };
    default:
      return {
        ...fields,
        ...extra,
        ...common,
        action: result.status,
        ...(result.reason === undefined ? {} : { reason: result.reason }),
        ...(result.message === undefined ? {} : { message: result.message }),
        ...(result.staleDeleted === undefined ? {} : { staleDeleted: result.staleDeleted }),
      };
  }
}
