/**
 * S3 Batch Operations "Invoke AWS Lambda function" jobs: the invocation payload (schema 1.0 with bucket
 * ARNs, 2.0 with bucket names and user arguments) in, one result per task out, coded `Succeeded` (restored
 * or skipped with its reason), `TemporaryFailure` (S3 retries the task: throttling, timeouts, 5xx, a model
 * run that failed) or `PermanentFailure` (access denied, a missing object: S3 records it in the job's
 * completion report with our result string).
 */
import { UnjpegError } from "../errors.js";
import type { DeriveOutcome } from "../storage/derive.js";
import { type EventResult, failedResult, summaryOf } from "../storage/object-event.js";
import { decodeKey } from "./manifest.js";

export type BatchResultCode = "Succeeded" | "TemporaryFailure" | "PermanentFailure";

export interface BatchTask {
  readonly taskId: string;
  readonly bucket: string;
  /** Decoded. */
  readonly key: string;
  readonly versionId: string | undefined;
}

export interface BatchInvocation {
  readonly schemaVersion: "1.0" | "2.0";
  readonly invocationId: string;
  readonly jobId: string;
  readonly userArguments: Readonly<Record<string, string>>;
  readonly tasks: readonly BatchTask[];
}

export interface BatchTaskResult {
  readonly taskId: string;
  readonly resultCode: BatchResultCode;
  readonly resultString: string;
}

export interface BatchResponse {
  readonly invocationSchemaVersion: string;
  readonly treatMissingKeysAs: BatchResultCode;
  readonly invocationId: string;
  readonly results: readonly BatchTaskResult[];
}

export class BatchEventError extends UnjpegError {
  constructor(why: string) {
    super("BATCH_EVENT_INVALID", `not an S3 Batch Operations invocation: ${why}`, { status: 400 });
  }
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null;

/** Schema 1.0 names the bucket by ARN: `arn:aws:s3:::bucket` (the docs' example also carries a region). */
function bucketOfArn(arn: string): string {
  const name = arn.split(":").at(-1) ?? "";
  if (!arn.startsWith("arn:") || name === "") throw new BatchEventError(`bad bucket ARN "${arn}"`);
  return name;
}

export function parseBatchInvocation(event: unknown): BatchInvocation {
  if (!isObject(event)) throw new BatchEventError("the event is not an object");
  const version = event["invocationSchemaVersion"];
  if (version !== "1.0" && version !== "2.0") {
    throw new BatchEventError(
      `invocationSchemaVersion ${JSON.stringify(version)} (1.0 and 2.0 are supported)`,
    );
  }
  const job = isObject(event["job"]) ? event["job"] : {};
  const tasks = event["tasks"];
  if (typeof event["invocationId"] !== "string" || !Array.isArray(tasks)) {
    throw new BatchEventError("invocationId or tasks missing");
  }
  const userArguments: Record<string, string> = {};
  if (isObject(job["userArguments"])) {
    for (const [k, v] of Object.entries(job["userArguments"]))
      if (typeof v === "string") userArguments[k] = v;
  }
  return {
    schemaVersion: version,
    invocationId: event["invocationId"],
    jobId: typeof job["id"] === "string" ? job["id"] : "",
    userArguments,
    tasks: tasks.map((task, i): BatchTask => {
      if (!isObject(task) || typeof task["taskId"] !== "string" || typeof task["s3Key"] !== "string") {
        throw new BatchEventError(`task ${i} lacks taskId or s3Key`);
      }
      const bucket =
        version === "1.0"
          ? bucketOfArn(String(task["s3BucketArn"] ?? ""))
          : typeof task["s3Bucket"] === "string"
            ? task["s3Bucket"]
            : bucketOfArn(String(task["s3BucketArn"] ?? ""));
      return {
        taskId: task["taskId"],
        bucket,
        // Batch Operations passes keys URL-encoded, as written in its CSV manifest (AWS's own examples
        // unquote_plus them).
        key: decodeKey(task["s3Key"]),
        versionId: typeof task["s3VersionId"] === "string" ? task["s3VersionId"] : undefined,
      };
    }),
  };
}

/** Result strings end up in the job's completion report; keep them short and one line. */
const clip = (text: string): string => text.replace(/\s+/g, " ").slice(0, 900);

/**
 * A task's result from the one object-event policy: done or skipped (with its reason, a corrupt image too)
 * is `Succeeded`; a failure is `TemporaryFailure` or `PermanentFailure` by its classification. A source
 * that is gone is `PermanentFailure`, S3's own convention for missing keys (`treatMissingKeysAs`).
 */
export function resultOfEvent(taskId: string, result: EventResult): BatchTaskResult {
  const resultString = clip(summaryOf(result));
  if (result.status === "failed") {
    const temporary = result.failure?.kind === "temporary";
    const text = clip(`${result.reason}: ${result.failure?.message ?? result.message ?? ""}`);
    return { taskId, resultCode: temporary ? "TemporaryFailure" : "PermanentFailure", resultString: text };
  }
  if (result.status === "skipped" && result.reason === "gone")
    return { taskId, resultCode: "PermanentFailure", resultString: clip(`not found: ${result.message}`) };
  return { taskId, resultCode: "Succeeded", resultString };
}

/** A storage core outcome as a task result (the policy's mapping, for callers that hold an outcome). */
export function resultOfOutcome(taskId: string, outcome: DeriveOutcome): BatchTaskResult {
  const status = outcome.action;
  const skip = outcome.action === "skipped" ? { reason: outcome.reason, message: outcome.message } : {};
  return resultOfEvent(taskId, {
    bucket: outcome.bucket,
    key: outcome.key,
    status,
    derived: outcome,
    ...skip,
  });
}

/** An error as a task result; `timedOut`: the deadline cut it (S3 retries it). */
export function resultOfError(taskId: string, error: unknown, timedOut = false): BatchTaskResult {
  if (timedOut) {
    return {
      taskId,
      resultCode: "TemporaryFailure",
      resultString: "timed out before the restore finished; S3 retries it",
    };
  }
  return resultOfEvent(taskId, { bucket: "", key: "", ...failedResult(error) });
}

export function batchResponse(
  invocation: Pick<BatchInvocation, "schemaVersion" | "invocationId">,
  results: readonly BatchTaskResult[],
): BatchResponse {
  return {
    invocationSchemaVersion: invocation.schemaVersion,
    treatMissingKeysAs: "PermanentFailure",
    invocationId: invocation.invocationId,
    results,
  };
}
