import { UnjpegError } from "../errors.js";

/**
 * An image unjpeg will not decode. Codes:
 * - `IMAGE_TOO_LARGE`: over the pixel or byte limit (checked from the headers, before decoding).
 * - `IMAGE_UNSUPPORTED`: a format or pixel layout the model cannot take (CMYK, 12-bit, animated, ...).
 * - `IMAGE_INVALID`: not a readable image, or corrupt pixel data.
 */
export type ImageErrorCode = "IMAGE_TOO_LARGE" | "IMAGE_UNSUPPORTED" | "IMAGE_INVALID";

export class ImageError extends UnjpegError {
  declare readonly code: ImageErrorCode;
  constructor(code: ImageErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { cause: options.cause, status: code === "IMAGE_TOO_LARGE" ? 413 : 422 });
  }
}
