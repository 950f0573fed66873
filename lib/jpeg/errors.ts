import { UnjpegError } from "../errors.js";

/**
 * Stable codes of {@link JpegError}. Callers branch on these; the messages may change.
 *
 * - `JPEG_EMPTY`: zero bytes.
 * - `JPEG_NOT_JPEG`: does not start with the SOI marker `FF D8` (other formats, junk before SOI).
 * - `JPEG_TRUNCATED`: the file ends before the headers do (a truncated file, or a prefix declared complete);
 *   for the coefficient decoder also inside a scan's data.
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
 * - `JPEG_BAD_SCAN`: an SOS header that names no, too many or unknown components; for the coefficient
 *   decoder also one that names a component twice, more than 10 blocks in an interleaved MCU, or more
 *   than 1000 scans in the file.
 * - `JPEG_HEADERS_TOO_LONG`: `inspectJpegSource` reached its `maxBytes` before the headers ended.
 * - `JPEG_SCAN_TOO_SHORT`: the entropy-coded data is too short for the frame it claims (fewer bytes than any
 *   encoder can code its blocks in, or a decoder that ran out of data): a cut file, or a small image with a
 *   huge frame header that would decode padded (lib/jpeg/scan-length.ts has the rule).
 *
 * Codes of the coefficient decoder (`decodeCoefficients`), which reads the whole file:
 * - `JPEG_TOO_LARGE`: more pixels than the limit (`maxPixels`), refused before any coefficient storage.
 * - `JPEG_SCAN_TOO_SHORT` (also the decoder's): besides the header-level rule above, the bytes from the
 *   first scan on hold less than the least every block needs (sequential: 2 bits, a DC code and an
 *   end-of-block code; progressive: 1 bit, a DC code), or no scan at all, checked before any coefficient
 *   storage is allocated; or a scan's data ends at a marker before its last block (missing data); or the
 *   image ends with a component in no scan (progressive: in no DC scan).
 * - `JPEG_ARITHMETIC_UNSUPPORTED`: arithmetic-coded frames (SOF9..SOF11): only Huffman coding is decoded.
 * - `JPEG_BAD_HUFFMAN_TABLE`: a DHT segment with a class above 1 or a slot above 3, code lengths that
 *   over-subscribe the code space (or use an all-ones code), more symbols than the segment holds or than
 *   256, or a DC symbol above 15.
 * - `JPEG_MISSING_HUFFMAN_TABLE`: a scan uses a Huffman table slot no DHT defined (slots 0 and 1 fall back
 *   to the standard tables of T.81 Annex K, as libjpeg does for Motion-JPEG frames).
 * - `JPEG_BAD_HUFFMAN_CODE`: scan data with a bit pattern no code of the table starts, or a symbol the scan
 *   cannot use (a refinement magnitude other than 1).
 * - `JPEG_SCAN_OVERRUN`: coded coefficients that run past the end of a block (coefficient 63) or of the
 *   scan's spectral band.
 * - `JPEG_BAD_PROGRESSION`: progressive scan parameters out of range (Ss, Se, Ah, Al), an AC scan with
 *   several components, or out of order (AC before DC, a refinement that does not follow the scan it
 *   refines, a band coded twice).
 * - `JPEG_BAD_RESTART`: a restart marker missing, or out of sequence, where the restart interval (DRI)
 *   puts one.
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
  "JPEG_TOO_LARGE",
  "JPEG_SCAN_TOO_SHORT",
  "JPEG_ARITHMETIC_UNSUPPORTED",
  "JPEG_BAD_HUFFMAN_TABLE",
  "JPEG_MISSING_HUFFMAN_TABLE",
  "JPEG_BAD_HUFFMAN_CODE",
  "JPEG_SCAN_OVERRUN",
  "JPEG_BAD_PROGRESSION",
  "JPEG_BAD_RESTART",
] as const;

export type JpegErrorCode = (typeof JPEG_ERROR_CODES)[number];

/** A JPEG whose headers cannot be read. `offset` is where in the file the problem was found. */
export class JpegError extends UnjpegError {
  declare readonly code: JpegErrorCode;
  readonly offset: number;

  constructor(code: JpegErrorCode, message: string, offset: number) {
    // 422: the request was fine, the image is not usable (413 for one over the pixel limit, as images
    // over it are answered elsewhere); the offset is not secret, so the message is public.
    super(code, `${message} (at byte ${offset})`, { status: code === "JPEG_TOO_LARGE" ? 413 : 422 });
    this.offset = offset;
  }
}
