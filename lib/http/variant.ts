/**
 * Served variants that are not stored: a stored image re-encoded in another format or at a requested
 * `quality`. Cheap next to a model run (one decode and encode), and it keeps the bucket at one derivative
 * per source and format (docs/CONTRACTS.md). EXIF orientation is applied (browsers and CDNs disagree on
 * honouring it), the ICC profile and the rest of the metadata kept.
 */
import type { OutputFormat } from "../config.js";
import { contentTypeOf } from "./negotiate.js";

export async function encodeVariant(
  input: Uint8Array,
  format: OutputFormat,
  quality: number | undefined,
): Promise<{ body: Uint8Array; contentType: string }> {
  // sharp is loaded on first use: signing, routing and stored-derivative hits never need it.
  const { default: sharp } = await import("sharp");
  const image = sharp(input, { failOn: "error" }).autoOrient().keepMetadata();
  const encoded =
    format === "jpeg"
      ? image.jpeg({ quality: quality ?? 95, chromaSubsampling: "4:4:4" })
      : format === "webp"
        ? image.webp({ quality: quality ?? 90 })
        : format === "avif"
          ? image.avif({ quality: quality ?? 70 })
          : image.png();
  const body = await encoded.toBuffer();
  return {
    body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength),
    contentType: contentTypeOf(format),
  };
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
