/**
 * Which failures are worth retrying, and retrying them with capped, jittered exponential backoff. Generic
 * (it lives in lib/storage so the bucket lister can use it without depending on lib/backfill); shared by
 * the lister, the backfill CLI, the Batch Operations handler (TemporaryFailure vs PermanentFailure) and the
 * queue worker.
 */
import { isUnjpegError } from "../errors.js";

export type FailureKind = "temporary" | "permanent";

export interface ClassifiedFailure {
  readonly kind: FailureKind;
  /** A stable code: the UnjpegError code, the AWS error name, or the Node system error code. */
  readonly code: string;
  readonly message: string;
}

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
  status?: unknown;
  retryable?: unknown;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: unknown };
  cause?: unknown;
}

/** Temporary: throttling, timeouts, 5xx, network errors; permanent: everything else (bad input). */
export function classifyFailure(error: unknown): ClassifiedFailure {
  const e = (typeof error === "object" && error !== null ? error : {}) as ErrorLike;
  const message = typeof e.message === "string" ? e.message : String(error);
  const name = typeof e.name === "string" ? e.name : "Error";
  if (isUnjpegError(error)) {
    // Our own errors are bad input unless they say otherwise or wrap a transient cause (an S3 throttle).
    // An error that says whether a retry can help (lib/storage's StorageError) is taken at its word.
    if (typeof e.retryable === "boolean") {
      return { kind: e.retryable ? "temporary" : "permanent", code: error.code, message };
    }
    const temporary =
      [408, 429, 503, 504].includes(error.status) ||
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

export interface RetryOptions {
  /** Attempts in all, the first included (default 5). */
  readonly attempts?: number;
  /** First backoff ceiling in ms (default 200); doubles each retry. */
  readonly baseMs?: number;
  /** Largest backoff in ms (default 20,000). */
  readonly maxMs?: number;
  readonly signal?: AbortSignal;
  /** Called before each wait; for logs and counters. */
  readonly onRetry?: (failure: ClassifiedFailure, attempt: number, delayMs: number) => void;
  /** For tests: the random source in [0, 1) and the sleep. */
  readonly random?: () => number;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** "Full jitter": a uniform wait in [0, min(max, base·2^retry)), which spreads a thundering herd. */
export function backoffDelay(retry: number, baseMs: number, maxMs: number, random: () => number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** retry);
  return Math.floor(random() * ceiling);
}

/** Runs `fn`, retrying temporary failures; rethrows the last error (permanent ones at once). */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const attempts = options.attempts ?? 5;
  const random = options.random ?? Math.random;
  const sleep = options.sleep ?? abortableSleep;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (error) {
      const failure = classifyFailure(error);
      if (failure.kind === "permanent" || attempt >= attempts || options.signal?.aborted) throw error;
      const delay = backoffDelay(attempt - 1, options.baseMs ?? 200, options.maxMs ?? 20_000, random);
      options.onRetry?.(failure, attempt, delay);
      await sleep(delay, options.signal);
    }
  }
}

export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
