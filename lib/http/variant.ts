/**
 * Served variants that are not stored: a stored image re-encoded in another format or at a requested
 * `quality`. Cheap next to a model run (one decode and encode), and it keeps the bucket at one derivative
 * per source and format (docs/CONTRACTS.md). EXIF orientation is applied (browsers and CDNs disagree on
 * honouring it), the ICC profile and the rest of the metadata kept.
 */
import type { OutputFormat } from "../config.js";
import { decodeFailure, ImageError } from "../image/errors.js";
import { checkFormatHolds } from "../image/format-limits.js";
import { contentTypeOf } from "./negotiate.js";

/**
 * Failures are `ImageError`s, each found as early as it can be: an input that is not a readable image
 * (`IMAGE_INVALID`, `IMAGE_UNSUPPORTED`: a 12-bit JPEG), over `maxPixels` (`IMAGE_TOO_LARGE`) or too large
 * for `format` (`IMAGE_TOO_LARGE_FOR_FORMAT`) from its headers, before any pixel is decoded; corrupt pixel
 * data while transcoding.
 */
export async function encodeVariant(
  input: Uint8Array,
  format: OutputFormat,
  quality: number | undefined,
  maxPixels = Number.POSITIVE_INFINITY,
): Promise<{ body: Uint8Array; contentType: string }> {
  const sharp = await loadSharp();
  const { width, height } = await readSize(input, maxPixels);
  checkFormatHolds(format, width, height);
  const image = sharp(input, { failOn: "error", limitInputPixels: false }).autoOrient().keepMetadata();
  const encoded =
    format === "jpeg"
      ? image.jpeg({ quality: quality ?? 95, chromaSubsampling: "4:4:4" })
      : format === "webp"
        ? image.webp({ quality: quality ?? 90 })
        : format === "avif"
          ? image.avif({ quality: quality ?? 70 })
          : image.png();
  let body: Buffer;
  try {
    body = await encoded.toBuffer();
  } catch (cause) {
    throw decodeFailure(cause, `cannot transcode the image to ${format}`);
  }
  return {
    body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength),
    contentType: contentTypeOf(format),
  };
}

/**
 * Proves that bytes about to be served as they are decode as an image: readable headers within
 * `maxPixels`, then every scan decoded at one eighth of the size (libjpeg's shrink-on-load decodes all the
 * entropy-coded data, with a fraction of a full decode's work and memory). Throws `ImageError` as
 * {@link encodeVariant} does.
 */
export async function checkDecodes(input: Uint8Array, maxPixels: number): Promise<void> {
  const sharp = await loadSharp();
  const { width, height } = await readSize(input, maxPixels);
  try {
    await sharp(input, { failOn: "error", limitInputPixels: false })
      .resize(Math.max(1, Math.floor(width / 8)), Math.max(1, Math.floor(height / 8)), { fit: "fill" })
      .raw()
      .toBuffer();
  } catch (cause) {
    throw decodeFailure(cause, "the image does not decode");
  }
}

/** sharp, loaded on first use: signing, routing and stored-derivative hits never need it. */
const loadSharp = async () => (await import("sharp")).default;

/** The size from the headers, or why there is none; over `maxPixels` is refused before any decode. */
async function readSize(input: Uint8Array, maxPixels: number): Promise<{ width: number; height: number }> {
  const sharp = await loadSharp();
  let size: { width?: number; height?: number };
  try {
    size = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (cause) {
    throw decodeFailure(cause, "not a readable image");
  }
  const { width, height } = size;
  if (width === undefined || height === undefined)
    throw new ImageError("IMAGE_INVALID", "the image header gives no size");
  if (width * height > maxPixels) {
    throw new ImageError(
      "IMAGE_TOO_LARGE",
      `the image is ${width}×${height} (${width * height} pixels), over the limit of ${maxPixels}`,
    );
  }
  return { width, height };
}

/** The format of encoded bytes from their signature, or null when unknown. */
export function sniffFormat(bytes: Uint8Array): OutputFormat | null {
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "jpeg";
  if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return "png";
  const ascii = (from: number, to: number): string => String.fromCharCode(...bytes.subarray(from, to));
  if (ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP") return "webp";
  if (ascii(4, 8) === "ftyp" && /^avi[fs]$/.test(ascii(8, 12))) return "avif";
  return null;
}
