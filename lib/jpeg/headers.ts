/**
 * Walks a JPEG's marker segments up to the first scan and reads what quality estimation needs: the frame
 * (SOFn) and the quantization tables (DQT) in effect for each component. Every other segment (APPn with
 * EXIF thumbnails and ICC profiles, COM, DHT, DAC, DRI, ...) is skipped by its length, unread, so a caller
 * holding only a prefix learns exactly how many bytes it must fetch next.
 */
import { JpegError } from "./errors.js";
import { DQT, EOI, frameKind, isSkippedSegment, isStandalone, SOI, SOS } from "./markers.js";
import {
  type JpegFrame,
  type QuantTable,
  readDqt,
  readFrame,
  readScanHeader,
  type ScanHeader,
} from "./segments.js";

export type { FrameComponent, JpegFrame, QuantTable, ScanComponent, ScanHeader } from "./segments.js";

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

/**
 * What a reader of the whole file (the coefficient decoder) hooks into the walk. With a visitor the walk
 * reads to EOI, every segment's payload must be present, and each scan's entropy-coded data is left to
 * `scan`, which returns the offset where it stopped reading (at the next marker, or the end of the file).
 */
export interface SegmentVisitor {
  /** The frame header, once read (before any scan). `at`: the offset of its marker. */
  frame(frame: JpegFrame, at: number): void;
  /** A segment the walk does not read itself (DHT, DRI, DAC, APPn, COM, ...): its payload [start, end). */
  segment(marker: number, start: number, end: number, at: number): void;
  /** A scan whose data starts at `dataStart` (its tables are latched); returns where the data reading stopped. */
  scan(header: ScanHeader, dataStart: number, at: number): number;
}

export type ReadHeadersResult =
  | { readonly status: "ok"; readonly headers: JpegHeaders }
  | { readonly status: "need-more-bytes"; readonly atLeast: number };

/** Thrown inside the walk when the prefix ends early; turned into a result, never escapes. */
class NeedMoreBytes {
  constructor(readonly atLeast: number) {}
}

const MAX_JUNK_SEARCH_BYTES = 65536;

export function readJpegHeaders(input: Uint8Array, options: ReadHeadersOptions = {}): ReadHeadersResult {
  const { fileSize } = options;
  if (fileSize !== undefined && (!Number.isSafeInteger(fileSize) || fileSize < 0)) {
    throw new TypeError(`fileSize must be a non-negative integer, got ${fileSize}`);
  }
  const bytes = fileSize !== undefined && input.length > fileSize ? input.subarray(0, fileSize) : input;
  try {
    return { status: "ok", headers: walk(bytes, fileSize, options.readToEnd === true, undefined) };
  } catch (error) {
    if (error instanceof NeedMoreBytes) return { status: "need-more-bytes", atLeast: error.atLeast };
    throw error;
  }
}

/**
 * Walks a whole file to EOI with a visitor (see {@link SegmentVisitor}); throws {@link JpegError} for
 * anything malformed. A file that ends right after a scan's data, without EOI, is accepted.
 */
export function visitJpeg(bytes: Uint8Array, visitor: SegmentVisitor): JpegHeaders {
  return walk(bytes, bytes.length, true, visitor);
}

function walk(
  b: Uint8Array,
  fileSize: number | undefined,
  readToEnd: boolean,
  visitor: SegmentVisitor | undefined,
): JpegHeaders {
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
      return finish(pos, true, markerAt);
    }

    ensure(pos + 2, `the length of segment FF ${hex(marker)}`);
    const length = (b[pos]! << 8) | b[pos + 1]!;
    if (length < 2) {
      throw new JpegError("JPEG_BAD_LENGTH", `segment FF ${hex(marker)} has length ${length}`, markerAt);
    }
    const start = pos + 2;
    const end = pos + length;

    if (isSkippedSegment(marker)) {
      if (visitor !== undefined) {
        ensure(end, `segment FF ${hex(marker)}`);
        visitor.segment(marker, start, end, markerAt);
      }
      pos = end; // without a visitor the payload is not needed: do not ask for it
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
      visitor?.frame(frame, markerAt);
      pos = end;
      continue;
    }
    if (marker === SOS) {
      if (frame === undefined)
        throw new JpegError("JPEG_NO_FRAME", "a scan before any frame header (SOF)", markerAt);
      ensure(end, "a scan header (SOS)");
      const scan = readScanHeader(b, start, end, frame, markerAt);
      for (const { index } of scan.components) latch(index, markerAt);
      scans++;
      pos = end;
      scanStart ??= pos;
      if (allLatched() && !readToEnd) return result(pos, false);
      if (visitor !== undefined) {
        pos = visitor.scan(scan, pos, markerAt);
        if (pos >= b.length) return finish(b.length, false, b.length);
      }
      pos = skipEntropyData(b, pos, ensure);
      continue;
    }
    throw new JpegError("JPEG_BAD_MARKER", `unexpected marker FF ${hex(marker)}`, markerAt);
  }

  /** The end of the image: every component gets its table, even one no scan used. */
  function finish(headerBytes: number, reachedEnd: boolean, at: number): JpegHeaders {
    for (let i = 0; i < latched.length; i++) latch(i, at);
    return result(headerBytes, reachedEnd);
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
