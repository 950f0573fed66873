/**
 * Encoding restored pixels, with the source's metadata carried over on purpose: ICC profile and EXIF are
 * kept (orientation reset to 1, since the pixels are already upright), and EXIF `Software` says that unjpeg
 * restored the image and with which model.
 */
import sharp from "sharp";
import type { OutputFormat } from "../config.js";
import { ImageError } from "./errors.js";
import { DERIVATIVE_SOFTWARE } from "./mark.js";

export const CONTENT_TYPES: Readonly<Record<OutputFormat, string>> = Object.freeze({
  jpeg: "image/jpeg",
  png: "image/png",
  webp: "image/webp",
  avif: "image/avif",
});

export const EXTENSIONS: Readonly<Record<OutputFormat, string>> = Object.freeze({
  jpeg: "jpg",
  png: "png",
  webp: "webp",
  avif: "avif",
});

/** Encoder quality when the caller gives none: high, since the point is to remove artifacts. */
export const DEFAULT_QUALITY: Readonly<Record<Exclude<OutputFormat, "png">, number>> = Object.freeze({
  jpeg: 95,
  webp: 90,
  avif: 70,
});

export interface EncodeOptions {
  readonly format: OutputFormat;
  /** 1..100 for jpeg, webp and avif; ignored for png. */
  readonly quality?: number;
  /** Write one grey channel (the source was grey). */
  readonly grey: boolean;
  /** `<id>@<version>`, recorded in EXIF `Software`. */
  readonly modelTag: string;
}

/**
 * Encodes `rgb` (interleaved, `width * height * 3`, upright) in place of the source's pixels. The source
 * is re-read by sharp only for its metadata and orientation; every output pixel comes from `rgb`.
 */
export async function encodeRestored(
  source: Uint8Array,
  rgb: Uint8Array,
  width: number,
  height: number,
  options: EncodeOptions,
): Promise<Uint8Array> {
  if (rgb.length !== width * height * 3)
    throw new RangeError(`rgb has ${rgb.length} bytes, expected ${width * height * 3}`);
  try {
    // Compositing onto the oriented source keeps its ICC profile and EXIF in sharp's pipeline; "source"
    // blending replaces every pixel, so nothing of the source's pixels survives.
    let pipeline = sharp(source, { limitInputPixels: false })
      .autoOrient()
      .composite([
        {
          input: Buffer.from(rgb.buffer, rgb.byteOffset, rgb.length),
          raw: { width, height, channels: 3 },
          blend: "source",
        },
      ])
      .removeAlpha()
      .keepIccProfile()
      .keepExif()
      .withExifMerge({ IFD0: { Software: `${DERIVATIVE_SOFTWARE}${options.modelTag}` } });
    if (options.grey) pipeline = pipeline.toColourspace("b-w");
    const q = options.quality;
    switch (options.format) {
      case "jpeg":
        pipeline = pipeline.jpeg({ quality: q ?? DEFAULT_QUALITY.jpeg, chromaSubsampling: "4:4:4" });
        break;
      case "png":
        pipeline = pipeline.png({ compressionLevel: 6 });
        break;
      case "webp":
        pipeline = pipeline.webp({ quality: q ?? DEFAULT_QUALITY.webp });
        break;
      case "avif":
        pipeline = pipeline.avif({ quality: q ?? DEFAULT_QUALITY.avif, effort: 4 });
        break;
    }
    const out = await pipeline.toBuffer();
    return new Uint8Array(out.buffer, out.byteOffset, out.length);
  } catch (cause) {
    throw new ImageError(
      "IMAGE_INVALID",
      `cannot encode the restored image as ${options.format}: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
}
