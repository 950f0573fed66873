/**
 * Moving metadata between JPEG files at the byte level, so that a restored JPEG can be encoded from raw
 * pixels alone (no second decode of the source) and still carry exactly the metadata sharp would have
 * written: the segments come from a small "carrier" JPEG that sharp writes with the same metadata options
 * from a corner of the source, and only the image size recorded in its EXIF is corrected. Pure functions.
 */

import { COM, SOI } from "../jpeg/markers.js";

/** Whether `marker` starts a metadata segment (APP0..APP15 or COM) of the kind that precede the tables. */
function isMetadataMarker(marker: number): boolean {
  return (marker >= 0xe0 && marker <= 0xef) || marker === COM;
}

/** Byte range of the metadata segments right after SOI: [2, end). Throws unless `jpeg` starts with SOI. */
function metadataEnd(jpeg: Uint8Array): number {
  if (jpeg.length < 4 || jpeg[0] !== 0xff || jpeg[1] !== SOI) throw new RangeError("not a JPEG (no SOI)");
  let at = 2;
  while (at + 4 <= jpeg.length && jpeg[at] === 0xff && isMetadataMarker(jpeg[at + 1]!)) {
    const length = (jpeg[at + 2]! << 8) | jpeg[at + 3]!;
    if (length < 2 || at + 2 + length > jpeg.length) throw new RangeError("truncated JPEG segment");
    at += 2 + length;
  }
  return at;
}

/**
 * `pixels` with its leading metadata segments (APPn, COM) replaced by those of `carrier`: SOI, the
 * carrier's metadata, then everything of `pixels` from its first table on.
 */
export function withMetadataOf(pixels: Uint8Array, carrier: Uint8Array): Uint8Array {
  const metaEnd = metadataEnd(carrier);
  const rest = metadataEnd(pixels);
  const out = new Uint8Array(metaEnd + pixels.length - rest);
  out.set(carrier.subarray(0, metaEnd), 0);
  out.set(pixels.subarray(rest), metaEnd);
  return out;
}

const EXIF_HEADER = [0x45, 0x78, 0x69, 0x66, 0, 0]; // "Exif\0\0"
const EXIF_IFD_POINTER = 0x8769;
const PIXEL_X_DIMENSION = 0xa002;
const PIXEL_Y_DIMENSION = 0xa003;
const SHORT = 3;
const LONG = 4;

/**
 * Sets EXIF PixelXDimension and PixelYDimension (the image size libvips records on save), in place, in
 * the APP1 Exif segment among `jpeg`'s metadata segments; a file without them is left as it is. Returns
 * how many of the two were set.
 */
export function setExifPixelSize(jpeg: Uint8Array, width: number, height: number): number {
  const end = metadataEnd(jpeg);
  let at = 2;
  while (at < end) {
    const length = (jpeg[at + 2]! << 8) | jpeg[at + 3]!;
    const body = at + 4;
    if (jpeg[at + 1] === 0xe1 && length >= 8 && EXIF_HEADER.every((b, i) => jpeg[body + i] === b)) {
      const tiff = new DataView(jpeg.buffer, jpeg.byteOffset + body + 6, length - 2 - 6);
      return setTiffPixelSize(tiff, width, height);
    }
    at += 2 + length;
  }
  return 0;
}

function setTiffPixelSize(tiff: DataView, width: number, height: number): number {
  if (tiff.byteLength < 8) return 0;
  const order = tiff.getUint16(0);
  if (order !== 0x4949 && order !== 0x4d4d) return 0;
  const little = order === 0x4949;
  const exifIfd = findEntry(tiff, tiff.getUint32(4, little), EXIF_IFD_POINTER, little);
  if (exifIfd === undefined) return 0;
  const ifd = tiff.getUint32(exifIfd + 8, little);
  let set = 0;
  for (const [tag, value] of [
    [PIXEL_X_DIMENSION, width],
    [PIXEL_Y_DIMENSION, height],
  ] as const) {
    const entry = findEntry(tiff, ifd, tag, little);
    if (entry === undefined) continue;
    const type = tiff.getUint16(entry + 2, little);
    if (type === SHORT && value <= 0xffff) tiff.setUint16(entry + 8, value, little);
    else if (type === LONG) tiff.setUint32(entry + 8, value, little);
    else continue;
    set++;
  }
  return set;
}

/** Offset of the 12-byte entry for `tag` in the IFD at `ifd`, or undefined (also for a malformed IFD). */
function findEntry(tiff: DataView, ifd: number, tag: number, little: boolean): number | undefined {
  if (ifd + 2 > tiff.byteLength) return undefined;
  const count = tiff.getUint16(ifd, little);
  for (let k = 0; k < count; k++) {
    const entry = ifd + 2 + 12 * k;
    if (entry + 12 > tiff.byteLength) return undefined;
    if (tiff.getUint16(entry, little) === tag) return entry;
  }
  return undefined;
}
