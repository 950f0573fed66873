import { UnjpegError } from "../errors.js";

/**
 * An image unjpeg will not decode. Codes:
 * - `IMAGE_TOO_LARGE`: over the pixel or byte limit (checked from the headers, before decoding).
 * - `IMAGE_UNSUPPORTED`: a format or pixel layout the model cannot take (CMYK, 12-bit, animated, ...).
 * - `IMAGE_INVALID`: not a readable image, or corrupt pixel data.
 * - `IMAGE_TOO_LARGE_FOR_FORMAT`: the output format cannot hold the image's size (lib/image/format-limits.ts),
 *   found before anything is decoded or restored.
 */
export type ImageErrorCode =
  | "IMAGE_TOO_LARGE"
  | "IMAGE_UNSUPPORTED"
  | "IMAGE_INVALID"
  | "IMAGE_TOO_LARGE_FOR_FORMAT";

export class ImageError extends UnjpegError {
  declare readonly code: ImageErrorCode;
  constructor(code: ImageErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { cause: options.cause, status: code === "IMAGE_TOO_LARGE" ? 413 : 422 });
  }
}

/** A decoder's failure as an ImageError: unsupported (12-bit, an unknown coding process) or invalid. */
export function decodeFailure(cause: unknown, what: string): ImageError {
  const message = cause instanceof Error ? cause.message : String(cause);
  // libjpeg in sharp has no 12-bit decoder; it says so as "Unsupported JPEG data precision 12".
  const code = /precision|unsupported/i.test(message) ? "IMAGE_UNSUPPORTED" : "IMAGE_INVALID";
  return new ImageError(code, `${what}: ${message}`, { cause });
}
