/**
 * Walks a JPEG's marker segments up to the first scan and reads what quality estimation needs: the frame
 * (SOFn) and the quantization tables (DQT) in effect for each component. Every other segment (APPn with
 * EXIF thumbnails and ICC profiles, COM, DHT, DAC, DRI, ...) is skipped by its length, unread, so a caller
 * holding only a prefix learns exactly how many bytes it must fetch next.
 */
import { JpegError } from "./errors.js";
import {
  DQT,
  EOI,
  frameKind,
  isSkippedSegment,
  isStandalone,
  type JpegProcess,
  SOI,
  SOS,
} from "./markers.js";

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

export interface JpegHeaders {
  readonly frame: JpegFrame;
  /** For each frame component (same order), the table in its slot when the first scan using it began. */
  readonly componentTables: readonly QuantTable[];
  /** Bytes read: the offset just past the last header segment looked at (the first SOS, usually). */
  readonly headerBytes: number;
  /** Where the first scan's entropy-coded data begins (just past its SOS header); at EOI when none. */
  readonly scanStart: number;
  /** Scans seen; more than 1 only when reading to the end. */
  readonly scans: number;
  /** True when EOI was reached (only when reading to the end, or a file without entropy data). */
  readonly reachedEnd: boolean;
}

export interface ReadHeadersOptions {
  /** Size of the whole file when `bytes` may be a prefix; omitted: unknown, so a short prefix asks for more. */
  readonly fileSize?: number;
  /** Keep going through every scan to EOI (reads the whole file) instead of stopping at the first scan. */
  readonly readToEnd?: boolean;
}

export type ReadHeadersResult =
  | { readonly status: "ok"; readonly headers: JpegHeaders }
  | { readonly status: "need-more-bytes"; readonly atLeast: number };

/** Thrown inside the walk when the prefix ends early; turned into a result, never escapes. */
class NeedMoreBytes {
  constructor(readonly atLeast: number) {}
}

// Position k of the zigzag sequence holds the coefficient at natural index NATURAL_ORDER[k].
const NATURAL_ORDER = [
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7,
  14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46,
  53, 60, 61, 54, 47, 55, 62, 63,
];

const MAX_JUNK_SEARCH_BYTES = 65536;

export function readJpegHeaders(input: Uint8Array, options: ReadHeadersOptions = {}): ReadHeadersResult {
  const { fileSize } = options;
  if (fileSize !== undefined && (!Number.isSafeInteger(fileSize) || fileSize < 0)) {
    throw new TypeError(`fileSize must be a non-negative integer, got ${fileSize}`);
  }
  const bytes = fileSize !== undefined && input.length > fileSize ? input.subarray(0, fileSize) : input;
  try {
    return { status: "ok", headers: walk(bytes, fileSize, options.readToEnd === true) };
  } catch (error) {
    if (error instanceof NeedMoreBytes) return { status: "need-more-bytes", atLeast: error.atLeast };
    throw error;
  }
}

function walk(b: Uint8Array, fileSize: number | undefined, readToEnd: boolean): JpegHeaders {
  /** Makes sure bytes [0, end) are present: asks for more, or fails if the file is known to be shorter. */
  const ensure = (end: number, what: string): void => {
    if (end <= b.length) return;
    if (fileSize !== undefined && end > fileSize) {
      if (fileSize === 0) throw new JpegError("JPEG_EMPTY", "the file is empty", 0);
      throw new JpegError(
        "JPEG_TRUNCATED",
        `the file ends after ${fileSize} bytes, inside the headers (${what} needs ${end})`,
        fileSize,
      );
    }
    throw new NeedMoreBytes(end);
  };

  if (b.length > 0 && b[0] !== 0xff) throw notJpeg(b);
  ensure(2, "the SOI marker");
  if (b[1] !== SOI) throw notJpeg(b);

  const tables: (QuantTable | undefined)[] = [undefined, undefined, undefined, undefined];
  let sawDqt = false;
  let frame: JpegFrame | undefined;
  let latched: (QuantTable | undefined)[] = [];
  let scans = 0;
  let scanStart: number | undefined;
  let pos = 2;

  const latch = (index: number, at: number): void => {
    if (latched[index] !== undefined || frame === undefined) return;
    const component = frame.components[index]!;
    const table = tables[component.slot];
    if (table === undefined) {
      if (!sawDqt) throw new JpegError("JPEG_NO_DQT", "the image has no quantization tables (DQT)", at);
      throw new JpegError(
        "JPEG_MISSING_TABLE",
        `component ${component.id} uses quantization table ${component.slot}, which is not defined`,
        at,
      );
    }
    latched[index] = table;
  };
  const allLatched = (): boolean => frame !== undefined && latched.every((t) => t !== undefined);

  for (;;) {
    // libjpeg tolerates stray bytes between segments (and FF 00 there): skip to the next FF xx.
    // FF FF ... FF xx: any number of fill bytes before the marker code.
    for (;;) {
      ensure(pos + 2, "a marker");
      const next = b[pos + 1]!;
      if (b[pos] !== 0xff || next === 0xff) pos++;
      else if (next === 0x00) pos += 2;
      else break;
    }
    const markerAt = pos;
    const marker = b[pos + 1]!;
    pos += 2;

    if (isStandalone(marker)) continue;
    if (marker === SOI)
      throw new JpegError("JPEG_BAD_MARKER", "a second SOI marker inside the image", markerAt);
    if (marker === EOI) {
      if (frame === undefined)
        throw new JpegError("JPEG_NO_FRAME", "EOI before any frame header (SOF)", markerAt);
      for (let i = 0; i < latched.length; i++) latch(i, markerAt);
      return result(pos, true);
    }

    ensure(pos + 2, `the length of segment FF ${hex(marker)}`);
    const length = (b[pos]! << 8) | b[pos + 1]!;
    if (length < 2) {
      throw new JpegError("JPEG_BAD_LENGTH", `segment FF ${hex(marker)} has length ${length}`, markerAt);
    }
    const start = pos + 2;
    const end = pos + length;

    if (isSkippedSegment(marker)) {
      pos = end; // the payload is not needed: do not ask for it
      continue;
    }
    if (marker === DQT) {
      ensure(end, "a DQT segment");
      readDqt(b, start, end, tables);
      sawDqt = true;
      pos = end;
      continue;
    }
    const kind = frameKind(marker);
    if (kind !== undefined) {
      if (frame !== undefined) {
        throw new JpegError("JPEG_MULTIPLE_FRAMES", "a second frame header (hierarchical JPEG)", markerAt);
      }
      if (kind.differential || kind.process.startsWith("lossless")) {
        const name = kind.differential ? "hierarchical (differential)" : "lossless";
        throw new JpegError(
          "JPEG_UNSUPPORTED_PROCESS",
          `${name} JPEG has no quantization tables to estimate quality from`,
          markerAt,
        );
      }
      ensure(end, "a frame header (SOF)");
      frame = readFrame(b, start, end, kind.process, markerAt);
      latched = frame.components.map(() => undefined);
      pos = end;
      continue;
    }
    if (marker === SOS) {
      if (frame === undefined)
        throw new JpegError("JPEG_NO_FRAME", "a scan before any frame header (SOF)", markerAt);
      ensure(end, "a scan header (SOS)");
      for (const index of readScanComponents(b, start, end, frame, markerAt)) latch(index, markerAt);
      scans++;
      pos = end;
      scanStart ??= pos;
      if (allLatched() && !readToEnd) return result(pos, false);
      pos = skipEntropyData(b, pos, ensure);
      continue;
    }
    throw new JpegError("JPEG_BAD_MARKER", `unexpected marker FF ${hex(marker)}`, markerAt);
  }

  function result(headerBytes: number, reachedEnd: boolean): JpegHeaders {
    return {
      frame: frame!,
      componentTables: latched as QuantTable[],
      headerBytes,
      scanStart: scanStart ?? headerBytes,
      scans,
      reachedEnd,
    };
  }
}

/** Reads every table of one DQT segment (there may be up to four, and a later one replaces a slot). */
function readDqt(b: Uint8Array, start: number, end: number, tables: (QuantTable | undefined)[]): void {
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

function readFrame(b: Uint8Array, start: number, end: number, process: JpegProcess, at: number): JpegFrame {
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

/** The frame-component indexes a scan codes. */
function readScanComponents(
  b: Uint8Array,
  start: number,
  end: number,
  frame: JpegFrame,
  at: number,
): number[] {
  const count = b[start]!;
  if (count < 1 || count > 4) throw new JpegError("JPEG_BAD_SCAN", `scan with ${count} components`, at);
  if (end - start !== 4 + 2 * count) {
    throw new JpegError("JPEG_BAD_LENGTH", `scan header length does not fit ${count} components`, at);
  }
  const indexes: number[] = [];
  for (let i = 0; i < count; i++) {
    const id = b[start + 1 + 2 * i]!;
    const index = frame.components.findIndex((c) => c.id === id);
    if (index < 0) throw new JpegError("JPEG_BAD_SCAN", `scan names component ${id}, not in the frame`, at);
    indexes.push(index);
  }
  return indexes;
}

/** Skips entropy-coded data: up to the next FF that is not a stuffed zero or a restart marker. */
function skipEntropyData(b: Uint8Array, pos: number, ensure: (end: number, what: string) => void): number {
  let p = pos;
  for (;;) {
    const ff = b.indexOf(0xff, p);
    if (ff < 0) {
      ensure(b.length + 1, "entropy-coded data");
      p = b.length; // unreachable: ensure always throws here
      continue;
    }
    ensure(ff + 2, "entropy-coded data");
    const next = b[ff + 1]!;
    if (next === 0x00 || (next >= 0xd0 && next <= 0xd7) || next === 0xff) {
      p = ff + 1;
      continue;
    }
    return ff;
  }
}

function notJpeg(b: Uint8Array): JpegError {
  const limit = Math.min(b.length, MAX_JUNK_SEARCH_BYTES);
  for (let i = 1; i + 2 < limit; i++) {
    if (b[i] === 0xff && b[i + 1] === SOI && b[i + 2] === 0xff) {
      return new JpegError("JPEG_NOT_JPEG", `${i} bytes of junk before the SOI marker`, 0);
    }
  }
  return new JpegError("JPEG_NOT_JPEG", "not a JPEG: it does not start with the SOI marker FF D8", 0);
}

function hex(marker: number): string {
  return marker.toString(16).toUpperCase().padStart(2, "0");
}
