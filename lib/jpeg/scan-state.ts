/**
 * The state of one scan's entropy decoding, shared by the block decoders (scan-sequential.ts,
 * scan-progressive.ts) and the scan driver (scan.ts).
 *
 * Each stretch of entropy-coded data (a scan's, or a restart interval's) is first copied out of the file
 * without its stuffing (FF 00 → FF) up to the marker that ends it, followed by zeros. The decoders then
 * read bits at any position with one 4-byte load, and never test for markers: reading past the data is
 * found by comparing the bit position with the data's length after every block.
 */
import { JpegError } from "./errors.js";
import type { HuffmanTable } from "./huffman.js";
import { NATURAL_ORDER } from "./segments.js";

/** Indexes into {@link ScanState.bits}. */
export const BIT = 0; // next bit to read in the segment
export const BIT_LENGTH = 1; // bits of data in the segment
export const EOBRUN = 2; // progressive AC: blocks left in the current end-of-band run

/**
 * Zero bytes after a segment's data: more than one block can read (64 codes of 16 bits and 64 values of
 * 15 bits, 250 bytes) before the check that follows it, plus the 4-byte load.
 */
const PADDING = 512;

/** Zigzag position → natural index, typed for the hot loops; the extra entries are never read. */
export const ZIGZAG = Int32Array.from(NATURAL_ORDER);

export interface ScanState {
  readonly data: Uint8Array;
  /** BIT, BIT_LENGTH, EOBRUN. */
  readonly bits: Int32Array;
  /** DC predictors, by the component's position in the scan. */
  readonly predictors: Int32Array;
  /** The current segment without stuffing, then zeros; read through `view`. */
  readonly segment: Uint8Array;
  readonly view: DataView;
  /** Where in the file the current segment starts, and where its data stops (a marker, or the end). */
  segmentStart: number;
  segmentEnd: number;
  /** Huffman tables by the component's position in the scan (an empty table where the scan uses none). */
  dc: HuffmanTable[];
  ac: HuffmanTable[];
  /**
   * Progressive AC scans: by block of the scan's component, the zigzag index of its last nonzero
   * coefficient (0: none), so that refinements skip the zeros after it.
   */
  lastNonzero: Uint8Array;
  /** Spectral band and successive-approximation bit position of the scan. */
  ss: number;
  se: number;
  al: number;
  /** The unit (block, or MCU) the scan is at. */
  unit: number;
}

/** Scratch kept between decodes up to this size: fresh memory costs page faults at every decode. */
const KEPT_SCRATCH_BYTES = 16 * 1024 * 1024;
let kept = new Uint8Array(0);

/** A buffer of at least `size` bytes, contents undefined: the one kept from the last decode when it fits. */
function scratch(size: number): Uint8Array {
  if (size <= kept.length) return kept.subarray(0, size);
  const buffer = new Uint8Array(size);
  if (size <= KEPT_SCRATCH_BYTES) kept = buffer;
  return buffer;
}

/**
 * A scan state for `data`, whose scans hold at most `capacity` bytes. An object literal, not a class
 * instance: V8 keeps a literal's shape alive, while a class instance's shape (reached through weak
 * transitions) dies with the last instance at a full GC, and with it the optimized code of every
 * decoder that used it.
 */
export function createScanState(data: Uint8Array, capacity: number): ScanState {
  const segment = scratch(capacity + PADDING);
  return {
    data,
    bits: new Int32Array(3),
    predictors: new Int32Array(4),
    segment,
    view: new DataView(segment.buffer, segment.byteOffset, segment.byteLength),
    segmentStart: 0,
    segmentEnd: 0,
    dc: [],
    ac: [],
    lastNonzero: new Uint8Array(0),
    ss: 0,
    se: 63,
    al: 0,
    unit: 0,
  };
}

/**
 * Starts a segment at `start` (a scan's data, or the interval after a restart marker): copies its bytes
 * without stuffing up to the next marker or the end of the file; resets the predictors and the run.
 */
export function loadSegment(s: ScanState, start: number): void {
  const { data, segment } = s;
  let from = start;
  let length = 0;
  let end = data.length;
  while (from < data.length) {
    const ff = data.indexOf(0xff, from);
    const stop = ff < 0 ? data.length : ff;
    if (stop - from > 32) segment.set(data.subarray(from, stop), length);
    else for (let i = from; i < stop; i++) segment[length + i - from] = data[i]!;
    length += stop - from;
    if (ff < 0 || ff + 1 >= data.length) break; // the file ends inside the data
    if (data[ff + 1] !== 0) {
      end = ff; // a marker
      break;
    }
    segment[length++] = 0xff;
    from = ff + 2;
  }
  segment.fill(0, length, length + PADDING);
  s.segmentStart = start;
  s.segmentEnd = end;
  s.bits[BIT] = 0;
  s.bits[BIT_LENGTH] = length * 8;
  s.bits[EOBRUN] = 0;
  s.predictors.fill(0);
}

/** Whether the decoding has read past the segment's data (into the zeros after it). */
export function readPastData(s: ScanState): boolean {
  return s.bits[BIT]! > s.bits[BIT_LENGTH]!;
}

/** About where in the file the decoding is (stuffing bytes make it approximate). */
function offsetOf(s: ScanState): number {
  return Math.min(s.segmentStart + (s.bits[BIT]! >>> 3), s.segmentEnd);
}

export function badCode(s: ScanState): JpegError {
  return new JpegError(
    "JPEG_BAD_HUFFMAN_CODE",
    "scan data with a code its Huffman table does not have",
    offsetOf(s),
  );
}

export function overrun(s: ScanState, what: string): JpegError {
  return new JpegError("JPEG_SCAN_OVERRUN", `coded coefficients run past ${what}`, offsetOf(s));
}

/**
 * Between restart intervals: the data must stop at RSTn with the expected n (fill bytes FF may come
 * first). Bytes the interval did not use before it are ignored, as libjpeg does after a warning.
 */
export function restart(s: ScanState, expected: number): void {
  const { data } = s;
  let p = s.segmentEnd;
  while (p + 1 < data.length && data[p + 1] === 0xff) p++;
  if (p + 1 >= data.length) {
    throw new JpegError(
      "JPEG_TRUNCATED",
      `the file ends where restart marker ${expected} belongs`,
      data.length,
    );
  }
  const marker = data[p + 1]!;
  if (marker !== 0xd0 + expected) {
    const name = marker.toString(16).toUpperCase();
    throw new JpegError("JPEG_BAD_RESTART", `marker FF ${name} where RST${expected} belongs`, p);
  }
  loadSegment(s, p + 2);
}

export function dataEnded(s: ScanState, done: number, total: number): JpegError {
  const where = `after ${done} of its ${total} ${total === 1 ? "unit" : "units"}`;
  if (s.segmentEnd >= s.data.length) {
    return new JpegError("JPEG_TRUNCATED", `the file ends inside a scan, ${where}`, s.data.length);
  }
  return new JpegError("JPEG_SCAN_TOO_SHORT", `a scan's data ends at a marker ${where}`, s.segmentEnd);
}
