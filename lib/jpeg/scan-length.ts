/**
 * The cheap bound on a JPEG's entropy-coded data, from its headers and its size alone: a file whose scans
 * are far shorter than its frame needs (a 32 KB file whose frame claims 7000×7000) decodes padded with
 * zeros and would send a full-size image through the model. Refused before anything is decoded.
 *
 * The rule: Huffman coding spends at least two bits on every 8×8 block of a sequential file (a DC code and
 * an end-of-block code) and one on every block of a progressive one (the DC scans' code alone: later scans
 * may be missing, as in a cut-off progressive download), so a Huffman-coded file holds at least
 * `blocks × bits / 8` bytes after its first scan header, whatever the image and the quality; fewer can
 * only be a cut or forged scan (measured: the tightest real file, a flat progressive QF 1 image with
 * optimised scans, spends 1.001 bits a block). The coefficient decoder (lib/jpeg/coefficients.ts) checks
 * the same bound before it allocates. Arithmetic coding has no such floor (it codes a flat image in a few
 * bytes), so it is not bounded here. Decoders that run out of data say so too: lib/image/decode.ts refuses
 * those with the same code.
 */
import { JpegError } from "./errors.js";
import type { JpegInspection } from "./inspect.js";

/** The least any Huffman-coded JPEG spends on one 8×8 block, in bits. */
export function minHuffmanBitsPerBlock(progressive: boolean): number {
  return progressive ? 1 : 2;
}

type Frame = Pick<JpegInspection, "width" | "height" | "process" | "componentInfo">;

/**
 * 8×8 blocks the scans code: each component's own size in blocks (interleaved scans pad to whole MCUs, so
 * this is a lower bound).
 */
export function codedBlocks(frame: Frame): number {
  const hMax = Math.max(...frame.componentInfo.map((c) => c.h));
  const vMax = Math.max(...frame.componentInfo.map((c) => c.v));
  let blocks = 0;
  for (const { h, v } of frame.componentInfo) {
    const columns = Math.ceil(Math.ceil((frame.width * h) / hMax) / 8);
    const rows = Math.ceil(Math.ceil((frame.height * v) / vMax) / 8);
    blocks += columns * rows;
  }
  return blocks;
}

/** The fewest bytes of entropy-coded data the frame can have; null: no floor (arithmetic coding). */
export function minimumScanBytes(frame: Frame): number | null {
  if (frame.process.endsWith("arithmetic")) return null;
  return Math.ceil((codedBlocks(frame) * minHuffmanBitsPerBlock(frame.process === "progressive")) / 8);
}

/** Throws `JPEG_SCAN_TOO_SHORT` when the bytes after the first scan header cannot hold the frame's blocks. */
export function checkScanLength(
  inspection: Frame & Pick<JpegInspection, "scanStart">,
  fileSize: number,
): void {
  const minimum = minimumScanBytes(inspection);
  const available = fileSize - inspection.scanStart;
  if (minimum === null || available >= minimum) return;
  throw new JpegError(
    "JPEG_SCAN_TOO_SHORT",
    `the scans hold ${available} bytes, too few for a ${inspection.width}×${inspection.height} frame ` +
      `(at least ${minimum}: ${minHuffmanBitsPerBlock(inspection.process === "progressive")} bits per 8×8 block)`,
    fileSize,
  );
}
