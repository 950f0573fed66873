/**
 * `inspectJpeg`: quality and frame facts of a JPEG from its headers alone, answered from a prefix of the
 * file; `inspectJpegSource`: the same, fetching growing prefixes from any random-access source (a file, an
 * S3 object through ranged GETs) until the headers are complete.
 */
import { JpegError } from "./errors.js";
import { type JpegHeaders, readJpegHeaders } from "./headers.js";
import type { JpegProcess } from "./markers.js";
import { estimateIjgQuality, type RoledTable } from "./quality.js";

export interface InspectOptions {
  /**
   * Size of the whole file. Omitted: `bytes` may be a prefix of unknown length, so headers cut short
   * answer `need-more-bytes`. Given: headers that need bytes beyond it throw `JPEG_TRUNCATED`. Pass
   * `bytes.length` when `bytes` is the whole file.
   */
  readonly fileSize?: number;
  /** Read on through every scan to EOI (needs the whole file; proves the file is complete). */
  readonly readToEnd?: boolean;
}

export interface JpegTableInfo {
  /** Slot Tq, 0..3. */
  readonly slot: number;
  /** Bits per stored entry: 8 or 16. */
  readonly precision: 8 | 16;
  /** 64 entries in natural (row-major) order. */
  readonly values: readonly number[];
}

export interface JpegComponentInfo {
  readonly id: number;
  /** Horizontal and vertical sampling factors. */
  readonly h: number;
  readonly v: number;
  /** The quantization table slot the component uses. */
  readonly slot: number;
}

export interface JpegInspection {
  readonly status: "ok";
  /** IJG quality 1..100 (exact, or the nearest IJG equivalent). */
  readonly quality: number;
  readonly match: "exact" | "approximate";
  /** 0 when exact; else the mean absolute log-ratio to the nearest IJG tables (0.1 ≈ 10% off). */
  readonly distance: number;
  readonly width: number;
  readonly height: number;
  /** Number of colour components: 1 grey, 3 YCbCr (or RGB), 4 CMYK/YCCK. */
  readonly components: number;
  readonly bitDepth: 8 | 12;
  readonly process: JpegProcess;
  /** "4:4:4", "4:2:2", "4:2:0", "4:4:0", "4:1:1", "4:1:0", "4:0:0" (grey), or "HxV,HxV,..." otherwise. */
  readonly subsampling: string;
  /** The tables the image's components use, by slot. */
  readonly tables: readonly JpegTableInfo[];
  readonly componentInfo: readonly JpegComponentInfo[];
  /** How many bytes of the file the answer needed. */
  readonly headerBytes: number;
  /** Where the first scan's entropy-coded data begins: what follows is scans (and a few small headers). */
  readonly scanStart: number;
}

export interface NeedMoreBytes {
  readonly status: "need-more-bytes";
  /** Call again with at least this many bytes from the start of the file (a few KiB more saves a round trip). */
  readonly atLeast: number;
}

export type InspectResult = JpegInspection | NeedMoreBytes;

/**
 * Inspects a JPEG from the start of its bytes. Throws {@link JpegError} (stable `code`) for anything
 * malformed; answers `need-more-bytes` when `bytes` is a prefix that ends inside the headers.
 */
export function inspectJpeg(bytes: Uint8Array, options: InspectOptions = {}): InspectResult {
  const read = readJpegHeaders(bytes, options);
  if (read.status === "need-more-bytes") return read;
  return describe(read.headers);
}

function describe(headers: JpegHeaders): JpegInspection {
  const { frame, componentTables } = headers;
  // The first component is luma (JFIF, Adobe YCC, grey): libjpeg scales K.1 for its table, K.2 for the
  // others. A slot redefined between scans can give two components different tables in one slot.
  const roled: RoledTable[] = componentTables.map((table, index) => ({
    role: index === 0 || table === componentTables[0] ? "luma" : "chroma",
    values: table.values,
  }));
  const estimate = estimateIjgQuality(uniqueTables(roled));
  const tables = [...new Set(componentTables)]
    .sort((a, b) => a.slot - b.slot)
    .map(({ slot, precision, values }) => ({ slot, precision, values }));
  return {
    status: "ok",
    quality: estimate.quality,
    match: estimate.match,
    distance: estimate.distance,
    width: frame.width,
    height: frame.height,
    components: frame.components.length,
    bitDepth: frame.bitDepth,
    process: frame.process,
    subsampling: subsamplingOf(frame.components),
    tables,
    componentInfo: frame.components.map(({ id, h, v, slot }) => ({ id, h, v, slot })),
    headerBytes: headers.headerBytes,
    scanStart: headers.scanStart,
  };
}

function uniqueTables(tables: RoledTable[]): RoledTable[] {
  const seen = new Set<readonly number[]>();
  return tables.filter((t) => !seen.has(t.values) && seen.add(t.values) !== undefined);
}

const SUBSAMPLING_NAMES: Record<string, string> = {
  "1x1": "4:4:4",
  "2x1": "4:2:2",
  "2x2": "4:2:0",
  "1x2": "4:4:0",
  "4x1": "4:1:1",
  "4x2": "4:1:0",
};

/** J:a:b notation for one luma and equal chroma components; sampling factors otherwise. */
export function subsamplingOf(components: readonly { h: number; v: number }[]): string {
  if (components.length === 1) return "4:0:0";
  const factors = components.map((c) => `${c.h}x${c.v}`).join(",");
  if (components.length !== 3) return factors;
  const [y, cb, cr] = components as [
    { h: number; v: number },
    { h: number; v: number },
    { h: number; v: number },
  ];
  if (cb.h !== cr.h || cb.v !== cr.v || y.h % cb.h !== 0 || y.v % cb.v !== 0) return factors;
  return SUBSAMPLING_NAMES[`${y.h / cb.h}x${y.v / cb.v}`] ?? factors;
}

/** Random access to a file's bytes, e.g. a file handle or an S3 object read with ranged GETs. */
export interface ByteSource {
  /** Total size, when known (a stat, a HEAD, or Content-Range). */
  readonly size?: number;
  /** Bytes [start, end); fewer only at the end of the file. */
  read(start: number, end: number): Promise<Uint8Array>;
}

export interface SourceOptions {
  /** First read, bytes (default 16 KiB: most headers fit; camera EXIF needs a second read). */
  readonly firstReadBytes?: number;
  /** Read this much beyond what the parser asks for, to save round trips (default 16 KiB). */
  readonly readAheadBytes?: number;
  /** Give up with `JPEG_HEADERS_TOO_LONG` when the headers need more bytes than this (default: no limit). */
  readonly maxBytes?: number;
}

/** {@link inspectJpeg} over a source, reading only the prefix the headers need. */
export async function inspectJpegSource(
  source: ByteSource,
  options: SourceOptions = {},
): Promise<JpegInspection & { readonly bytesRead: number }> {
  const firstRead = options.firstReadBytes ?? 16384;
  const readAhead = options.readAheadBytes ?? 16384;
  const maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
  let size = source.size;
  let buffer: Uint8Array = new Uint8Array(0);
  let want = firstRead;
  for (;;) {
    const end = size === undefined ? want : Math.min(want, size);
    if (end > buffer.length) {
      const chunk = await source.read(buffer.length, end);
      let grown = chunk;
      if (buffer.length > 0) {
        grown = new Uint8Array(buffer.length + chunk.length);
        grown.set(buffer);
        grown.set(chunk, buffer.length);
      }
      if (grown.length < end) size = grown.length; // a short read: the end of the file
      buffer = grown;
    }
    const result = inspectJpeg(buffer, { fileSize: size });
    if (result.status === "ok") return { ...result, bytesRead: buffer.length };
    if (result.atLeast > maxBytes) {
      throw new JpegError(
        "JPEG_HEADERS_TOO_LONG",
        `the headers need more than ${maxBytes} bytes (at least ${result.atLeast})`,
        buffer.length,
      );
    }
    want = Math.min(result.atLeast + readAhead, Math.max(maxBytes, result.atLeast));
  }
}
