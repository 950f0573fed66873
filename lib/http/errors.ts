/**
 * Errors the HTTP origin raises itself. Each carries the status a client gets and a message safe to show;
 * codes are stable (clients and dashboards branch on them).
 */
import { UnjpegError } from "../errors.js";
import type { ImageError } from "../image/errors.js";
import type { DeriveSkip } from "./types.js";

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

/**
 * An image the origin could not transcode, as the answer a client gets. A format too small for the image
 * is the request's fault (422), a pixel count over the limit 413; bytes that do not decode are the
 * input's fault (415) when they are a source, but the origin's own (500) when unjpeg wrote them.
 */
export function imageAnswer(error: ImageError, bytesAreSource: boolean): UnjpegError {
  switch (error.code) {
    case "IMAGE_TOO_LARGE_FOR_FORMAT":
      return new HttpError(error.code, 422, error.message, { cause: error });
    case "IMAGE_TOO_LARGE":
      return new HttpError("TOO_LARGE", 413, error.message, { cause: error });
    case "IMAGE_INVALID":
    case "IMAGE_UNSUPPORTED":
      if (!bytesAreSource) return new UnjpegError(error.code, error.message, { cause: error, status: 500 });
      return new HttpError("NOT_DECODABLE", 415, error.message, { cause: error });
  }
}

export const derivativeRefused = (): HttpError =>
  badRequest("DERIVATIVE_KEY", "this key is an unjpeg derivative; ask for its source instead");

/** The answer to a restore that was skipped for a reason other than serving the source as it is. */
export function skipAnswer(
  reason: Exclude<DeriveSkip, "high-quality" | "unsupported" | "key-too-long">,
  message: string,
): HttpError {
  switch (reason) {
    case "too-large":
      return tooLarge(message);
    case "format-limit":
      return new HttpError("IMAGE_TOO_LARGE_FOR_FORMAT", 422, message);
    case "not-jpeg":
      return unsupportedMedia("NOT_JPEG", message);
    case "corrupt":
      return unsupportedMedia("NOT_DECODABLE", message);
    case "derivative":
      return derivativeRefused();
    case "gone":
      return notFound();
    case "superseded":
      return new HttpError("SOURCE_CHANGED", 503, "the source changed during restoration; retry", {
        retryAfterSeconds: 1,
      });
    case "key-taken":
      return new HttpError(
        "DERIVATIVE_KEY_TAKEN",
        409,
        "the derivative's key holds an object unjpeg did not write",
      );
    case "other":
      return new HttpError("NOT_RESTORED", 503, message, { retryAfterSeconds: 5 });
  }
}
