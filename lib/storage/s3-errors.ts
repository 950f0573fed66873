/**
 * How S3 failures reach unjpeg's callers: one StorageError that says whether a retry can help, with the
 * code `S3_TIMEOUT` for a request that got no answer within the configured timeouts (after the SDK's own
 * retries) and `S3_ERROR` for everything else.
 */
import { UnjpegError } from "../errors.js";

export class StorageError extends UnjpegError {
  /** False for answers that a retry cannot change (access denied, bad request). */
  readonly retryable: boolean;
  constructor(
    message: string,
    options: {
      cause?: unknown;
      retryable: boolean;
      status?: number;
      code?: "S3_ERROR" | "S3_TIMEOUT";
      publicMessage?: string;
    },
  ) {
    super(options.code ?? "S3_ERROR", message, {
      cause: options.cause,
      status: options.status ?? 502,
      ...(options.publicMessage === undefined ? {} : { publicMessage: options.publicMessage }),
    });
    this.retryable = options.retryable;
  }
}

/** The settings an S3 request that got no answer in time ran under, named in its error. */
const TIMEOUT_SETTINGS = "UNJPEG_S3_CONNECT_TIMEOUT_MS / UNJPEG_S3_REQUEST_TIMEOUT_MS";

/**
 * Whether an SDK error is a request that got no answer in time: the request handler's connection or
 * socket timeout (the SDK names both TimeoutError), or a socket that timed out below it.
 */
export function isS3Timeout(error: unknown): boolean {
  const e = error as { name?: unknown; code?: unknown } | null;
  return e?.name === "TimeoutError" || e?.code === "ETIMEDOUT";
}

/**
 * `S3_TIMEOUT`: `what` got no answer within the configured timeouts, in every attempt the SDK's retry
 * policy made. Retryable: a later run (or the caller's own retry, with a longer backoff) may get through.
 */
export function s3TimeoutError(what: string, error: unknown): StorageError {
  const attempts = (error as SdkError | null)?.$metadata?.attempts;
  const reason = error instanceof Error ? error.message : String(error);
  return new StorageError(
    `${what} failed: no answer in time (${TIMEOUT_SETTINGS})${attempts === undefined ? "" : ` in ${attempts} attempts`}: ${reason}`,
    {
      cause: error,
      retryable: true,
      status: 504,
      code: "S3_TIMEOUT",
      publicMessage: "the object store did not answer in time",
    },
  );
}

interface SdkError {
  name?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number };
  $retryable?: unknown;
}

export const statusOf = (error: unknown): number | undefined =>
  (error as SdkError)?.$metadata?.httpStatusCode;

export function isNotFound(error: unknown): boolean {
  const name = (error as SdkError)?.name;
  return name === "NotFound" || name === "NoSuchKey" || statusOf(error) === 404;
}

/** `operation s3://bucket/key failed: ...`, retryable for throttling, 5xx, timeouts and network errors. */
export function storageError(operation: string, bucket: string, key: string, error: unknown): StorageError {
  if (isS3Timeout(error)) return s3TimeoutError(`${operation} s3://${bucket}/${key}`, error);
  const status = statusOf(error);
  const name = (error as SdkError)?.name ?? "Error";
  const retryable =
    status === undefined || status >= 500 || status === 429 || status === 408 || name === "SlowDown";
  const reason = error instanceof Error ? error.message : String(error);
  return new StorageError(`${operation} s3://${bucket}/${key} failed: ${name}: ${reason}`, {
    cause: error,
    retryable,
  });
}
