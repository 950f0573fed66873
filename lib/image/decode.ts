/**
 * Decoding with sharp into what the model takes: 8-bit RGB, EXIF orientation applied, pixel values as
 * stored (no colour conversion, so the embedded ICC profile still describes them). Limits are checked
 * from the headers first.
 */
import sharp, { type Metadata } from "sharp";
import { JpegError } from "../jpeg/index.js";
import { decodeFailure, ImageError } from "./errors.js";
import { DEFAULT_LIMITS, type ImageLimits } from "./limits.js";

export interface ImageInfo {
  /** sharp's format name: "jpeg", "png", "webp", ... */
  readonly format: string;
  /** Size after the EXIF orientation is applied. */
  readonly width: number;
  readonly height: number;
  /** EXIF orientation 1..8 (1 when absent). */
  readonly orientation: number;
  /** One channel of grey (restored as RGB, written back as grey). */
  readonly grey: boolean;
  readonly hasIcc: boolean;
  readonly hasExif: boolean;
}

export interface DecodedImage {
  readonly info: ImageInfo;
  /** Interleaved RGB, 8 bits, `width * height * 3` bytes, row-major. */
  readonly rgb: Uint8Array;
}

/** Reads the headers (no pixel decoding) and applies the limits. */
export async function probeImage(
  bytes: Uint8Array,
  limits: ImageLimits = DEFAULT_LIMITS,
): Promise<ImageInfo> {
  if (bytes.length > limits.maxBytes) {
    throw new ImageError(
      "IMAGE_TOO_LARGE",
      `the image is ${bytes.length} bytes, over the limit of ${limits.maxBytes}`,
    );
  }
  let meta: Metadata;
  try {
    // Headers only: sharp's own pixel limit is off here because ours is checked right after.
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (cause) {
    throw new ImageError("IMAGE_INVALID", `not a readable image: ${(cause as Error).message}`, { cause });
  }
  const { width, height, format } = meta;
  if (width === undefined || height === undefined || format === undefined) {
    throw new ImageError("IMAGE_INVALID", "the image header gives no size");
  }
  if (width * height > limits.maxPixels) {
    throw new ImageError(
      "IMAGE_TOO_LARGE",
      `the image is ${width}×${height} (${width * height} pixels), over the limit of ${limits.maxPixels}`,
    );
  }
  if (meta.space === "cmyk" || (format === "jpeg" && meta.channels === 4)) {
    throw new ImageError(
      "IMAGE_UNSUPPORTED",
      "CMYK images are not supported (the model restores RGB and grey)",
    );
  }
  if ((meta.pages ?? 1) > 1)
    throw new ImageError("IMAGE_UNSUPPORTED", "multi-page or animated images are not supported");
  const orientation = meta.orientation ?? 1;
  const swap = orientation >= 5 && orientation <= 8;
  return {
    format,
    width: swap ? height : width,
    height: swap ? width : height,
    orientation,
    grey: meta.channels === 1 || meta.channels === 2 || meta.space === "b-w" || meta.space === "grey16",
    hasIcc: meta.icc !== undefined,
    hasExif: meta.exif !== undefined,
  };
}

/** Decodes to oriented 8-bit RGB; a grey image is replicated into three equal channels. */
export async function decodeImage(
  bytes: Uint8Array,
  limits: ImageLimits = DEFAULT_LIMITS,
): Promise<DecodedImage> {
  const info = await probeImage(bytes, limits);
  const decodeRgb = (failOn: "warning" | "error") =>
    // ignoreIcc: the values as stored, not converted to sRGB; the profile goes back on at encode time.
    sharp(bytes, { limitInputPixels: limits.maxPixels, failOn, ignoreIcc: true })
      .autoOrient()
      .removeAlpha()
      .toColourspace("srgb") // channel layout only: 3 channels; pixel values are not colour-managed here
      .raw()
      .toBuffer({ resolveWithObject: true });
  try {
    let decoded: Awaited<ReturnType<typeof decodeRgb>>;
    try {
      // Strict first: a decoder warning stops it at once. Scan data that ends before the frame is filled
      // would decode padded (a small image under a huge frame header): refused. Other warnings (stray
      // bytes before a marker, ...) are common in real files: those decode again, as before, leniently.
      decoded = await decodeRgb("warning");
    } catch (cause) {
      const message = (cause as Error).message;
      if (MISSING_SCAN_DATA.test(message)) {
        throw new JpegError(
          "JPEG_SCAN_TOO_SHORT",
          `the decoder ran out of scan data: ${message}`,
          bytes.length,
        );
      }
      decoded = await decodeRgb("error");
    }
    const { data, info: out } = decoded;
    if (out.channels !== 3 || out.width !== info.width || out.height !== info.height) {
      throw new ImageError(
        "IMAGE_INVALID",
        `decoded ${out.width}×${out.height}×${out.channels}, expected RGB`,
      );
    }
    return { info, rgb: new Uint8Array(data.buffer, data.byteOffset, data.length) };
  } catch (cause) {
    if (cause instanceof ImageError || cause instanceof JpegError) throw cause;
    throw decodeFailure(cause, "cannot decode the image");
  }
}

/** libjpeg's warning for entropy-coded data that ends before every block was decoded (JWRN_HIT_MARKER). */
const MISSING_SCAN_DATA = /premature end of data segment/i;
