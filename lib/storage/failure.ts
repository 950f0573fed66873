/**
 * The one failure classification (docs/CONTRACTS.md, Failures): every consumer of an object event (upload
 * function, queue worker, `unjpeg worker`, Batch Operations, backfill) and every retry loop asks this
 * function whether a failure is `temporary` (retried; dead-lettered only after the queue's receive limit) or
 * `permanent` (not retried by unjpeg; a queue dead-letters it for an operator). Bad input never gets here:
 * the object-event policy records it as a skip with its reason (lib/storage/object-event.ts).
 */
import { isUnjpegError } from "../errors.js";

export type FailureKind = "temporary" | "permanent";

export interface ClassifiedFailure {
  readonly kind: FailureKind;
  /** A stable code: the UnjpegError code, the AWS error name, or the Node system error code. */
  readonly code: string;
  readonly message: string;
}

/**
 * Our codes that a later attempt can get past: the model failed while running or loading (a worker thread
 * that died, memory), the run was cut by its deadline or abort, S3 did not answer in time.
 */
export const TEMPORARY_CODES: ReadonlySet<string> = new Set([
  "MODEL_RUN_FAILED",
  "MODEL_LOAD_FAILED",
  "RESTORE_ABORTED",
  "DEADLINE",
  "S3_TIMEOUT",
]);

/** HTTP statuses of our errors that say "later": timeout, throttle, unavailable. */
const TEMPORARY_STATUSES: ReadonlySet<number> = new Set([408, 429, 503, 504]);

// AWS error names that mean "slow down" or "try again", across S3 and the other services we call.
const TRANSIENT_NAMES = new Set([
  "SlowDown",
  "Throttling",
  "ThrottlingException",
  "ThrottledException",
  "RequestThrottled",
  "RequestThrottledException",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "ProvisionedThroughputExceededException",
  "RequestTimeout",
  "RequestTimeoutException",
  "TimeoutError",
  "InternalError",
  "ServiceUnavailable",
  "OperationAborted",
]);

// Network failures from Node and undici: the request may not have reached the server.
const TRANSIENT_SYSTEM_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ETIMEDOUT",
  "EPIPE",
  "EAI_AGAIN",
  "ENOTFOUND",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
]);

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  retryable?: unknown;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: unknown };
  cause?: unknown;
}

/**
 * Temporary: throttling, timeouts, 5xx, network errors, a model run that failed, a deadline; permanent:
 * everything else (access denied, a malformed event, a broken model folder or configuration).
 */
export function classifyFailure(error: unknown): ClassifiedFailure {
  const e = (typeof error === "object" && error !== null ? error : {}) as ErrorLike;
  const message = typeof e.message === "string" ? e.message : String(error);
  const name = typeof e.name === "string" ? e.name : "Error";
  if (isUnjpegError(error)) {
    // An error that says whether a retry can help (lib/storage's StorageError) is taken at its word.
    if (typeof e.retryable === "boolean") {
      return { kind: e.retryable ? "temporary" : "permanent", code: error.code, message };
    }
    const temporary =
      TEMPORARY_CODES.has(error.code) ||
      TEMPORARY_STATUSES.has(error.status) ||
      (error.cause !== undefined && classifyFailure(error.cause).kind === "temporary");
    return { kind: temporary ? "temporary" : "permanent", code: error.code, message };
  }
  const status = typeof e.$metadata?.httpStatusCode === "number" ? e.$metadata.httpStatusCode : undefined;
  const systemCode = typeof e.code === "string" ? e.code : undefined;
  const code = systemCode ?? name;
  const temporary =
    e.$retryable !== undefined ||
    e.retryable === true ||
    TRANSIENT_NAMES.has(name) ||
    (systemCode !== undefined && TRANSIENT_SYSTEM_CODES.has(systemCode)) ||
    (status !== undefined && (status >= 500 || status === 429 || status === 408));
  if (temporary) return { kind: "temporary", code, message };
  if (e.cause !== undefined) {
    const cause = classifyFailure(e.cause);
    if (cause.kind === "temporary") return { ...cause, message };
  }
  return { kind: "permanent", code, message };
}
