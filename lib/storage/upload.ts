/**
 * Restore on upload, without Lambda types: turns an invocation (S3 notifications, EventBridge events, or
 * SQS messages carrying either) into derive/remove calls on the shared core, one decision line each, and
 * says which units failed so that only those are retried.
 */
import { UnjpegError } from "../errors.js";
import {
  type DeriveOutcome,
  type Deriver,
  deriveObject,
  type RemoveOutcome,
  removeDerivatives,
} from "./derive.js";
import { classifyInvocation, type EventUnit, type ObjectEvent } from "./events.js";
import { type Decision, decisionLine, type LineSink, stdoutSink } from "./report.js";
import { StorageError } from "./s3.js";

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
      record(failure(unit.events, { unit: unit.id }));
      failed.add(unit.id);
      return;
    }
    for (const objectEvent of unit.events) {
      if (options.signal?.aborted) {
        record({
          ...eventFields(objectEvent),
          action: "failed",
          reason: "DEADLINE",
          retryable: true,
          unit: unit.id,
        });
        failed.add(unit.id);
        continue;
      }
      const started = performance.now();
      try {
        const decision = await decide(deriver, objectEvent, options.signal);
        record({ ...decision, ms: Math.round(performance.now() - started), unit: unit.id });
      } catch (error) {
        record({ ...eventFields(objectEvent), ...failure(error, { unit: unit.id }) });
        failed.add(unit.id);
      }
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

const eventFields = (e: ObjectEvent) => ({ bucket: e.bucket, key: e.key, event: e.name });

async function decide(
  deriver: Deriver,
  event: ObjectEvent,
  signal: AbortSignal | undefined,
): Promise<Decision> {
  const fields = eventFields(event);
  if (event.change === "created") {
    return {
      ...fields,
      ...fromDerive(
        await deriveObject(deriver, { bucket: event.bucket, key: event.key, eTag: event.eTag, signal }),
      ),
    };
  }
  if (event.change === "removed") {
    return {
      ...fields,
      ...fromRemove(await removeDerivatives(deriver, { bucket: event.bucket, key: event.key })),
    };
  }
  return { ...fields, action: "ignored", reason: "event-type", message: `${event.name} needs no work` };
}

function fromDerive(outcome: DeriveOutcome): Decision {
  const common = {
    derivativeKey: outcome.derivativeKey,
    quality: outcome.quality,
    bytesRead: outcome.bytesRead,
  };
  switch (outcome.action) {
    case "written":
      return {
        ...common,
        action: "written",
        replaced: outcome.replaced,
        model: outcome.model,
        restoreMs: outcome.restoreMs,
        restoreWallMs: Math.round(outcome.restoreWallMs),
        timings: outcome.timings,
        bytesWritten: outcome.output.byteLength,
      };
    case "would-write":
      return { ...common, action: "would-write" };
    case "skipped":
      return { ...common, action: "skipped", reason: outcome.reason, message: outcome.message };
  }
}

function fromRemove(outcome: RemoveOutcome): Decision {
  if (outcome.action === "skipped")
    return { action: "skipped", reason: outcome.reason, message: outcome.message };
  return { action: "deleted", deleted: outcome.deleted };
}

function failure(error: unknown, extra: Record<string, unknown>): Decision {
  const code = error instanceof UnjpegError ? error.code : error instanceof Error ? error.name : "ERROR";
  const message = error instanceof Error ? error.message : String(error);
  const retryable =
    error instanceof StorageError ? error.retryable : !(error instanceof UnjpegError && error.status < 500);
  return { ...extra, action: "failed", reason: code, message, retryable };
}
