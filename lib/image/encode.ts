/**
 * Encoding restored pixels, with the source's metadata carried over on purpose: ICC profile and EXIF are
 * kept (orientation reset to 1, since the pixels are already upright), and EXIF `Software` says that unjpeg
 * restored the image and with which model.
 */
import sharp, { type Sharp } from "sharp";
import type { OutputFormat } from "../config.js";
import {
  type EncoderSetting,
  FIXED_QUALITY,
  fixedSetting,
  jpegOptions,
  withEncoder,
} from "./encoder-setting.js";
import { ImageError } from "./errors.js";
import { setExifPixelSize, withMetadataOf } from "./jpeg-metadata.js";
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

/** Encoder quality when the caller gives neither a quality nor a setting. */
export const DEFAULT_QUALITY = FIXED_QUALITY;

export interface EncodeOptions {
  readonly format: OutputFormat;
  /** 1..100 for jpeg, webp and avif; ignored for png. */
  readonly quality?: number;
  /** The whole encoder setting (lib/image/choose-encoding.ts chose it); default `fixedSetting(format, quality)`. */
  readonly setting?: EncoderSetting;
  /** Write one grey channel (the source was grey). */
  readonly grey: boolean;
  /** `<id>@<version>`, recorded in EXIF `Software`. */
  readonly modelTag: string;
}

/**
 * Encodes `rgb` (interleaved, `width * height * 3`, upright) in place of the source's pixels, with the
 * source's metadata. Every output pixel comes from `rgb`.
 */
export async function encodeRestored(
  source: Uint8Array,
  rgb: Uint8Array,
  width: number,
  height: number,
  options: EncodeOptions,
  /** The JPEG carrier of the source's metadata, when the caller started it early (`jpegCarrier`). */
  carrier?: Promise<Buffer>,
): Promise<Uint8Array> {
  if (rgb.length !== width * height * 3)
    throw new RangeError(`rgb has ${rgb.length} bytes, expected ${width * height * 3}`);
  try {
    return options.format === "jpeg"
      ? await encodeJpeg(rgb, width, height, options, carrier ?? jpegCarrier(source, width, height, options))
      : await encodeByCompositing(source, rgb, width, height, options);
  } catch (cause) {
    throw new ImageError(
      "IMAGE_INVALID",
      `cannot encode the restored image as ${options.format}: ${(cause as Error).message}`,
      { cause },
    );
  }
}

/** The setting `options` asks for. */
export function settingOf(options: EncodeOptions): EncoderSetting {
  const setting = options.setting ?? fixedSetting(options.format, options.quality);
  if (setting.format !== options.format)
    throw new RangeError(`a ${setting.format} setting for a ${options.format} encode`);
  return setting;
}

/** The metadata every output carries: the source's ICC and EXIF, the mark, and grey written as grey. */
function withSourceMetadata(pipeline: Sharp, options: EncodeOptions): Sharp {
  const kept = pipeline
    .removeAlpha()
    .keepIccProfile()
    .keepExif()
    .withExifMerge({ IFD0: { Software: `${DERIVATIVE_SOFTWARE}${options.modelTag}` } });
  return options.grey ? kept.toColourspace("b-w") : kept;
}

/**
 * The metadata segments a JPEG derivative of `source` carries, in a carrier JPEG that sharp writes from an
 * 8×8 corner of the source with the same metadata options (a few ms whatever the size); its EXIF image
 * size is then set to `width` × `height`. Needs only the source: a restore starts it while the model runs.
 */
export async function jpegCarrier(
  source: Uint8Array,
  width: number,
  height: number,
  options: EncodeOptions,
): Promise<Buffer> {
  const corner = sharp(source, { limitInputPixels: false, sequentialRead: true })
    .autoOrient()
    .extract({ left: 0, top: 0, width: Math.min(8, width), height: Math.min(8, height) });
  // The carrier's metadata segments do not depend on the quality or tables: any JPEG setting writes them.
  const carrier = await withSourceMetadata(corner, options)
    .jpeg(jpegOptions(fixedSetting("jpeg")))
    .toBuffer();
  setExifPixelSize(carrier, width, height);
  return carrier;
}

/**
 * JPEG without decoding the source again: the pixels are encoded from `rgb` alone, and the metadata
 * segments come from the carrier (`jpegCarrier`). The result has the same bytes as compositing onto the
 * whole decoded source (tests/unit/image-codec.test.ts).
 */
async function encodeJpeg(
  rgb: Uint8Array,
  width: number,
  height: number,
  options: EncodeOptions,
  carrier: Promise<Buffer>,
): Promise<Uint8Array> {
  let pixels = sharp(Buffer.from(rgb.buffer, rgb.byteOffset, rgb.length), {
    raw: { width, height, channels: 3 },
  });
  if (options.grey) pixels = pixels.toColourspace("b-w");
  const [encoded, metadata] = await Promise.all([
    withEncoder(pixels, settingOf(options)).toBuffer(),
    carrier,
  ]);
  return withMetadataOf(encoded, metadata);
}

/**
 * Any format: `rgb` composited over the decoded, oriented source, which keeps the source's ICC profile
 * and EXIF in sharp's pipeline ("source" blending replaces every pixel). Decodes the source once more.
 */
export async function encodeByCompositing(
  source: Uint8Array,
  rgb: Uint8Array,
  width: number,
  height: number,
  options: EncodeOptions,
): Promise<Uint8Array> {
  const pipeline = withSourceMetadata(
    sharp(source, { limitInputPixels: false })
      .autoOrient()
      .composite([
        {
          input: Buffer.from(rgb.buffer, rgb.byteOffset, rgb.length),
          raw: { width, height, channels: 3 },
          blend: "source",
        },
      ]),
    options,
  );
  const out = await withEncoder(pipeline, settingOf(options)).toBuffer();
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}
