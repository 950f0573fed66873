/**
 * Errors the HTTP origin raises itself. Each carries the status a client gets and a message safe to show;
 * codes are stable (clients and dashboards branch on them).
 */
import { UnjpegError } from "../errors.js";

export class HttpError extends UnjpegError {
  /** Seconds a client should wait before retrying (503 only). */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    code: string,
    status: number,
    message: string,
    options: { cause?: unknown; retryAfterSeconds?: number } = {},
  ) {
    super(code, message, { status, publicMessage: message, cause: options.cause });
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

export const badRequest = (code: string, message: string): HttpError => new HttpError(code, 400, message);

export const forbidden = (code: string, message: string): HttpError => new HttpError(code, 403, message);

export const notFound = (message = "no such object"): HttpError => new HttpError("NOT_FOUND", 404, message);

export const methodNotAllowed = (): HttpError =>
  new HttpError("METHOD_NOT_ALLOWED", 405, "only GET and HEAD are served here");

export const tooLarge = (message: string): HttpError => new HttpError("TOO_LARGE", 413, message);

export const unsupportedMedia = (code: string, message: string): HttpError =>
  new HttpError(code, 415, message);

export const overloaded = (retryAfterSeconds: number): HttpError =>
  new HttpError("OVERLOADED", 503, "too many restorations in progress; retry shortly", { retryAfterSeconds });

export const timedOut = (retryAfterSeconds: number, cause?: unknown): HttpError =>
  new HttpError("TIMEOUT", 503, "the restoration did not finish in time; retry shortly", {
    retryAfterSeconds,
    cause,
  });
