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

export class ScanState {
  readonly bits = new Int32Array(3);
  /** DC predictors, by the component's position in the scan. */
  readonly predictors = new Int32Array(4);
  /** The current segment without stuffing, then zeros; read through `view`. */
  readonly segment: Uint8Array;
  readonly view: DataView;
  /** Where in the file the current segment starts, and where its data stops (a marker, or the end). */
  segmentStart = 0;
  segmentEnd = 0;
  /** Huffman tables by the component's position in the scan (an empty table where the scan uses none). */
  dc: HuffmanTable[] = [];
  ac: HuffmanTable[] = [];
  /**
   * Progressive AC scans: by block of the scan's component, the zigzag index of its last nonzero
   * coefficient (0: none), so that refinements skip the zeros after it.
   */
  lastNonzero: Uint8Array = new Uint8Array(0);
  /** Spectral band and successive-approximation bit position of the scan. */
  ss = 0;
  se = 63;
  al = 0;

  /** `capacity`: at least the bytes from the scan's data to the end of the file. */
  constructor(
    readonly data: Uint8Array,
    capacity: number,
  ) {
    this.segment = new Uint8Array(capacity + PADDING);
    this.view = new DataView(this.segment.buffer);
  }

  /**
   * Starts a segment at `start` (a scan's data, or the interval after a restart marker): copies its bytes
   * without stuffing up to the next marker or the end of the file; resets the predictors and the run.
   */
  load(start: number): void {
    const { data, segment } = this;
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
    this.segmentStart = start;
    this.segmentEnd = end;
    this.bits[BIT] = 0;
    this.bits[BIT_LENGTH] = length * 8;
    this.bits[EOBRUN] = 0;
    this.predictors.fill(0);
  }

  /** Whether the decoding has read past the segment's data (into the zeros after it). */
  readPastData(): boolean {
    return this.bits[BIT]! > this.bits[BIT_LENGTH]!;
  }

  /** About where in the file the decoding is (stuffing bytes make it approximate). */
  offset(): number {
    return Math.min(this.segmentStart + (this.bits[BIT]! >>> 3), this.segmentEnd);
  }
}

export function badCode(s: ScanState): JpegError {
  return new JpegError(
    "JPEG_BAD_HUFFMAN_CODE",
    "scan data with a code its Huffman table does not have",
    s.offset(),
  );
}

export function overrun(s: ScanState, what: string): JpegError {
  return new JpegError("JPEG_SCAN_OVERRUN", `coded coefficients run past ${what}`, s.offset());
}
