/**
 * What each output format can hold: the one table every check reads (restore before the model runs, the
 * storage core before it reads a source whole, the CDN origin's transcodes and its `format=auto` choice).
 * The limits are the encoders' in sharp/libvips: a side above them fails at encode time.
 */
import type { OutputFormat } from "../config.js";
import { ImageError } from "./errors.js";

export interface FormatLimit {
  /** The longest side, in pixels, either way round (so EXIF orientation does not matter). */
  readonly maxSide: number;
}

export const FORMAT_LIMITS: Readonly<Record<OutputFormat, FormatLimit>> = Object.freeze({
  jpeg: { maxSide: 65_500 }, // libjpeg's JPEG_MAX_DIMENSION
  png: { maxSide: 2_147_483_647 }, // the PNG format's 31-bit sizes
  webp: { maxSide: 16_383 }, // WebP's 14-bit sizes
  avif: { maxSide: 16_384 }, // libheif's default as sharp enforces it
});

/** Why `format` cannot hold a `width` × `height` image, or undefined when it can. */
export function formatMisfit(format: OutputFormat, width: number, height: number): string | undefined {
  const { maxSide } = FORMAT_LIMITS[format];
  if (Math.max(width, height) <= maxSide) return undefined;
  return `a ${width}×${height} image does not fit ${format.toUpperCase()}, whose sides are at most ${maxSide} pixels`;
}

/** Throws `IMAGE_TOO_LARGE_FOR_FORMAT` when `format` cannot hold a `width` × `height` image. */
export function checkFormatHolds(format: OutputFormat, width: number, height: number): void {
  const misfit = formatMisfit(format, width, height);
  if (misfit !== undefined) throw new ImageError("IMAGE_TOO_LARGE_FOR_FORMAT", misfit);
}
