/**
 * The re-saved check of the triage (issue 17): a source whose last tables say "high quality" may carry an
 * earlier, harder compression (lib/jpeg/recompression.ts). It reads a bounded prefix of the scan, so it
 * runs only where it can change the decision: after the header triage, on sources at or above the skip
 * threshold. One rule says which bytes it reads, so the S3 paths' one more ranged GET and `restore()` on
 * the whole file decide alike.
 */
import { ANNEX_K_CHROMA, ANNEX_K_LUMA, ijgTable } from "../jpeg/ijg.js";
import {
  decodeCoefficients,
  detectRecompression,
  JpegError,
  type JpegInspection,
  type Recompression,
} from "../jpeg/index.js";
import type { SourceTables } from "../model/qtables.js";

/**
 * Scan data the check reads at most: a sequential file's first rows (about 2 MP of a QF 95 photo), or a
 * progressive file whole, if its scans are no longer than this (each spans the image, so no prefix of them
 * holds finished blocks); a longer progressive file is not checked.
 */
export const RESAVED_SCAN_BYTES = 1024 * 1024;

type Frame = Pick<JpegInspection, "process" | "scanStart">;

/**
 * Bytes from the start of a file of `totalBytes` the check reads, or null when it does not check the file:
 * a progressive one whose scans are longer than {@link RESAVED_SCAN_BYTES}.
 */
export function resavedPrefixBytes(frame: Frame, totalBytes: number): number | null {
  const limit = frame.scanStart + RESAVED_SCAN_BYTES;
  if (frame.process !== "progressive") return Math.min(limit, totalBytes);
  return totalBytes <= limit ? totalBytes : null;
}

export type ResavedCheck =
  | { readonly status: "checked"; readonly recompressed: Recompression | null }
  | { readonly status: "not-checked" }
  | { readonly status: "need-more-bytes"; readonly atLeast: number };

/**
 * The check on the first bytes of a file whose headers `frame` describes: the earlier compression they
 * show (null: none), or how many bytes it needs. A scan the coefficient decoder refuses shows none (the
 * restore, if any, fails on it by its own rules).
 */
export function checkResaved(
  bytes: Uint8Array,
  frame: Frame,
  totalBytes: number,
  maxPixels: number,
): ResavedCheck {
  const length = resavedPrefixBytes(frame, totalBytes);
  if (length === null) return { status: "not-checked" };
  if (bytes.length < length) return { status: "need-more-bytes", atLeast: length };
  try {
    const coefficients = decodeCoefficients(bytes.subarray(0, length), { maxPixels, prefix: true });
    return { status: "checked", recompressed: detectRecompression(coefficients) };
  } catch (error) {
    if (error instanceof JpegError) return { status: "checked", recompressed: null };
    throw error;
  }
}

/**
 * The tables a model told the compression gets for a re-saved source: the IJG tables (8-bit) of the
 * earlier compression's quality, never the file's last ones; a grey source's luma table twice, as for a
 * grey file's own (docs/CONTRACTS.md, "Model folder").
 */
export function earlierTables(quality: number, components: number): SourceTables {
  const luma = ijgTable(ANNEX_K_LUMA, quality, 255);
  return [luma, components === 1 ? luma : ijgTable(ANNEX_K_CHROMA, quality, 255)];
}
