/**
 * Readers of the header segments the walk (headers.ts) interprets itself: DQT, SOFn, SOS. Each checks
 * what every decoder needs and throws {@link JpegError} with the offset of the problem.
 */
import { JpegError } from "./errors.js";
import type { JpegProcess } from "./markers.js";

/** One quantization table, values in natural (row-major) order, not the zigzag order of the file. */
export interface QuantTable {
  /** Destination slot Tq, 0..3. */
  readonly slot: number;
  /** Bits per stored entry: 8 (Pq 0) or 16 (Pq 1). */
  readonly precision: 8 | 16;
  readonly values: readonly number[];
}

export interface FrameComponent {
  readonly id: number;
  readonly h: number;
  readonly v: number;
  /** The quantization table slot (Tq) the frame assigns to this component. */
  readonly slot: number;
}

export interface JpegFrame {
  readonly process: JpegProcess;
  readonly bitDepth: 8 | 12;
  readonly width: number;
  readonly height: number;
  readonly components: readonly FrameComponent[];
}

/** One component of a scan: which frame component, and the Huffman table slots (Td, Ta) it uses. */
export interface ScanComponent {
  /** Index into the frame's components. */
  readonly index: number;
  readonly dcTable: number;
  readonly acTable: number;
}

/** An SOS header: the components it codes and its spectral selection / successive approximation. */
export interface ScanHeader {
  readonly components: readonly ScanComponent[];
  readonly ss: number;
  readonly se: number;
  readonly ah: number;
  readonly al: number;
}

// Position k of the zigzag sequence holds the coefficient at natural index NATURAL_ORDER[k].
export const NATURAL_ORDER = [
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7,
  14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46,
  53, 60, 61, 54, 47, 55, 62, 63,
];

/** Reads every table of one DQT segment (there may be up to four, and a later one replaces a slot). */
export function readDqt(b: Uint8Array, start: number, end: number, tables: (QuantTable | undefined)[]): void {
  let p = start;
  while (p < end) {
    const pq = b[p]! >> 4;
    const tq = b[p]! & 0x0f;
    if (pq > 1) throw new JpegError("JPEG_BAD_PRECISION", `DQT table precision ${pq} (only 0 or 1 exist)`, p);
    if (tq > 3) throw new JpegError("JPEG_BAD_TABLE_ID", `DQT table slot ${tq} (only 0..3 exist)`, p);
    const entryBytes = pq === 0 ? 1 : 2;
    if (p + 1 + 64 * entryBytes > end) {
      throw new JpegError(
        "JPEG_DQT_OVERRUN",
        `DQT table ${tq} needs ${64 * entryBytes} bytes but the segment has ${end - p - 1} left`,
        p,
      );
    }
    const values = new Array<number>(64);
    for (let k = 0; k < 64; k++) {
      const at = p + 1 + k * entryBytes;
      const value = entryBytes === 1 ? b[at]! : (b[at]! << 8) | b[at + 1]!;
      if (value === 0) throw new JpegError("JPEG_ZERO_QUANT", `DQT table ${tq} has a zero entry`, at);
      values[NATURAL_ORDER[k]!] = value;
    }
    tables[tq] = { slot: tq, precision: pq === 0 ? 8 : 16, values };
    p += 1 + 64 * entryBytes;
  }
}

export function readFrame(
  b: Uint8Array,
  start: number,
  end: number,
  process: JpegProcess,
  at: number,
): JpegFrame {
  if (end - start < 6) throw new JpegError("JPEG_BAD_LENGTH", "frame header (SOF) too short", at);
  const precision = b[start]!;
  const height = (b[start + 1]! << 8) | b[start + 2]!;
  const width = (b[start + 3]! << 8) | b[start + 4]!;
  const count = b[start + 5]!;
  if (precision !== 8 && precision !== 12) {
    throw new JpegError("JPEG_BAD_FRAME", `sample precision ${precision} (DCT JPEG has 8 or 12)`, at);
  }
  if (width === 0 || height === 0) {
    throw new JpegError("JPEG_BAD_FRAME", `image size ${width}x${height} (a zero height needs DNL)`, at);
  }
  if (count === 0) throw new JpegError("JPEG_BAD_FRAME", "frame header with no components", at);
  if (end - start !== 6 + 3 * count) {
    throw new JpegError("JPEG_BAD_LENGTH", `frame header length does not fit ${count} components`, at);
  }
  const components: FrameComponent[] = [];
  for (let i = 0; i < count; i++) {
    const p = start + 6 + 3 * i;
    const id = b[p]!;
    const h = b[p + 1]! >> 4;
    const v = b[p + 1]! & 0x0f;
    const slot = b[p + 2]!;
    if (h < 1 || h > 4 || v < 1 || v > 4) {
      throw new JpegError("JPEG_BAD_FRAME", `component ${id} has sampling factors ${h}x${v}`, at);
    }
    if (slot > 3) throw new JpegError("JPEG_BAD_TABLE_ID", `component ${id} uses table slot ${slot}`, at);
    if (components.some((c) => c.id === id)) {
      throw new JpegError("JPEG_BAD_FRAME", `component id ${id} appears twice`, at);
    }
    components.push({ id, h, v, slot });
  }
  return { process, bitDepth: precision as 8 | 12, width, height, components };
}

/** The frame components a scan codes, their table slots, and its spectral parameters (unchecked). */
export function readScanHeader(
  b: Uint8Array,
  start: number,
  end: number,
  frame: JpegFrame,
  at: number,
): ScanHeader {
  const count = b[start]!;
  if (count < 1 || count > 4) throw new JpegError("JPEG_BAD_SCAN", `scan with ${count} components`, at);
  if (end - start !== 4 + 2 * count) {
    throw new JpegError("JPEG_BAD_LENGTH", `scan header length does not fit ${count} components`, at);
  }
  const components: ScanComponent[] = [];
  for (let i = 0; i < count; i++) {
    const id = b[start + 1 + 2 * i]!;
    const tables = b[start + 2 + 2 * i]!;
    const index = frame.components.findIndex((c) => c.id === id);
    if (index < 0) throw new JpegError("JPEG_BAD_SCAN", `scan names component ${id}, not in the frame`, at);
    components.push({ index, dcTable: tables >> 4, acTable: tables & 0x0f });
  }
  const p = start + 1 + 2 * count;
  return { components, ss: b[p]!, se: b[p + 1]!, ah: b[p + 2]! >> 4, al: b[p + 2]! & 0x0f };
}
