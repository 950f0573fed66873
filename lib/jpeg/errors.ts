import { UnjpegError } from "../errors.js";

/**
 * Stable codes of {@link JpegError}. Callers branch on these; the messages may change.
 *
 * - `JPEG_EMPTY`: zero bytes.
 * - `JPEG_NOT_JPEG`: does not start with the SOI marker `FF D8` (other formats, junk before SOI).
 * - `JPEG_TRUNCATED`: the file ends before the headers do (a truncated file, or a prefix declared complete).
 * - `JPEG_BAD_MARKER`: a reserved marker, or a second SOI, where a segment should start.
 * - `JPEG_BAD_LENGTH`: a segment length below 2, or one that does not fit its content.
 * - `JPEG_DQT_OVERRUN`: a DQT segment whose tables run past the segment's declared length.
 * - `JPEG_BAD_PRECISION`: a DQT table precision (Pq) other than 0 (8-bit entries) or 1 (16-bit entries).
 * - `JPEG_BAD_TABLE_ID`: a DQT destination (Tq) above 3, or a frame component naming one.
 * - `JPEG_ZERO_QUANT`: a quantization table entry of 0 (division by zero in every decoder).
 * - `JPEG_BAD_FRAME`: an SOF with an impossible sample precision, size, component count or sampling factor.
 * - `JPEG_MULTIPLE_FRAMES`: a second SOF (hierarchical files), which this reader does not interpret.
 * - `JPEG_UNSUPPORTED_PROCESS`: lossless or hierarchical (differential) coding: no quantization to measure.
 * - `JPEG_NO_FRAME`: a scan or EOI before any SOF.
 * - `JPEG_NO_DQT`: a frame and a scan but no DQT segment at all.
 * - `JPEG_MISSING_TABLE`: a scan uses a component whose quantization table slot was never defined.
 * - `JPEG_BAD_SCAN`: an SOS header that names no, too many or unknown components.
 * - `JPEG_HEADERS_TOO_LONG`: `inspectJpegSource` reached its `maxBytes` before the headers ended.
 * - `JPEG_SCAN_TOO_SHORT`: the entropy-coded data is too short for the frame it claims (fewer bytes than any
 *   encoder can code its blocks in, or a decoder that ran out of data): a cut file, or a small image with a
 *   huge frame header that would decode padded (lib/jpeg/scan-length.ts has the rule).
 */
export const JPEG_ERROR_CODES = [
  "JPEG_EMPTY",
  "JPEG_NOT_JPEG",
  "JPEG_TRUNCATED",
  "JPEG_BAD_MARKER",
  "JPEG_BAD_LENGTH",
  "JPEG_DQT_OVERRUN",
  "JPEG_BAD_PRECISION",
  "JPEG_BAD_TABLE_ID",
  "JPEG_ZERO_QUANT",
  "JPEG_BAD_FRAME",
  "JPEG_MULTIPLE_FRAMES",
  "JPEG_UNSUPPORTED_PROCESS",
  "JPEG_NO_FRAME",
  "JPEG_NO_DQT",
  "JPEG_MISSING_TABLE",
  "JPEG_BAD_SCAN",
  "JPEG_HEADERS_TOO_LONG",
  "JPEG_SCAN_TOO_SHORT",
] as const;

export type JpegErrorCode = (typeof JPEG_ERROR_CODES)[number];

/** A JPEG whose headers cannot be read. `offset` is where in the file the problem was found. */
export class JpegError extends UnjpegError {
  declare readonly code: JpegErrorCode;
  readonly offset: number;

  constructor(code: JpegErrorCode, message: string, offset: number) {
    // 422: the request was fine, the image is not usable; the offset is not secret, so the message is public.
    super(code, `${message} (at byte ${offset})`, { status: 422 });
    this.offset = offset;
  }
}
