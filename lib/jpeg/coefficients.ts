/**
 * `decodeCoefficients`: a JPEG's entropy-coded data into each component's quantized DCT coefficients,
 * with the quantization table each component was quantized with. Baseline, extended and progressive
 * Huffman coding, restart intervals, any sampling factors, 1 to 4 components, 8 and 12 bits. Pure
 * TypeScript; memory bounded before anything is allocated; a {@link JpegError} for every malformed stream.
 */
import { giveBack, takeBuffer } from "../image/buffer-pool.js";
import { DEFAULT_LIMITS } from "../image/limits.js";
import { JpegError } from "./errors.js";
import { visitJpeg } from "./headers.js";
import { type HuffmanSlots, readDht } from "./huffman.js";
import { type FrameLayout, frameLayout, totalBlocks } from "./layout.js";
import { DHT, DRI } from "./markers.js";
import { decodeScan, type ImageState } from "./scan.js";
import { minHuffmanBitsPerBlock } from "./scan-length.js";
import { createScanState } from "./scan-state.js";
import type { JpegFrame } from "./segments.js";

export interface CoefficientComponent {
  /** Component identifier from the SOF. */
  id: number;
  /** Sampling factors. */
  h: number;
  v: number;
  /** 64 steps, natural (row-major) order: the table this component was quantized with. */
  quant: Uint16Array;
  /** ceil(ceil(width · h / maxH) / 8): blocks covering the component's samples (not MCU padding). */
  blocksWide: number;
  /** ceil(ceil(height · v / maxV) / 8). */
  blocksHigh: number;
  /** blocksWide · blocksHigh · 64: blocks row by row, natural order inside a block, quantized values. */
  coefficients: Int16Array;
  /**
   * With `prefix`: the rows of blocks (from the top) that the bytes held whole; the rest are zeros.
   * `blocksHigh` when they held them all, 0 for a component no scan reached.
   */
  rows?: number;
}

export interface JpegCoefficients {
  width: number;
  height: number;
  /** 8 or 12. */
  precision: number;
  progressive: boolean;
  maxH: number;
  maxV: number;
  /** From an APP14 Adobe marker when present (0 = none/RGB or CMYK, 1 = YCbCr, 2 = YCCK). */
  adobeTransform?: number;
  components: CoefficientComponent[];
}

export interface DecodeCoefficientsOptions {
  /** Refuse larger images (`JPEG_TOO_LARGE`) before allocating; default: the configured default, 50,000,000. */
  maxPixels?: number;
  /** Checked before decoding and between scans (a synchronous decode cannot see it fire inside a scan). */
  signal?: AbortSignal;
  /**
   * `bytes` may be the first part of the file. A sequential frame is decoded as far as they go: the scan
   * they cut keeps the rows of blocks it decoded whole (each component's `rows` says how many), and
   * components of later scans are zeros. A progressive frame must be whole (every scan spans the image,
   * so no prefix holds finished blocks): a cut one throws as without this option.
   */
  prefix?: boolean;
}

const APP14 = 0xee;
/**
 * Scans allowed in one file. Encoders write about 10 (progressive) at most a few dozen; each scan may
 * visit every block, so a file of thousands of tiny scans would cost minutes at the pixel limit.
 */
const MAX_SCANS = 1000;

/**
 * Decodes the coefficients of a whole JPEG file. Throws {@link JpegError} (stable `code`, see errors.ts)
 * for anything malformed or unsupported; nothing else, whatever the bytes (an aborted `signal` throws its
 * reason).
 */
export function decodeCoefficients(
  bytes: Uint8Array,
  options: DecodeCoefficientsOptions = {},
): JpegCoefficients {
  const maxPixels = options.maxPixels ?? DEFAULT_LIMITS.maxPixels;
  const { signal } = options;
  const prefix = options.prefix === true;
  signal?.throwIfAborted();
  const huffman: HuffmanSlots = [
    [undefined, undefined, undefined, undefined],
    [undefined, undefined, undefined, undefined],
  ];
  let restartInterval = 0;
  let adobeTransform: number | undefined;
  let frame: JpegFrame | undefined;
  let layout: FrameLayout | undefined;
  let image: ImageState | undefined;
  let scans = 0;

  const headers = visitJpeg(bytes, {
    frame(read, at) {
      if (read.process.endsWith("arithmetic")) {
        throw new JpegError(
          "JPEG_ARITHMETIC_UNSUPPORTED",
          "arithmetic-coded JPEG (only Huffman coding is decoded)",
          at,
        );
      }
      if (read.width * read.height > maxPixels) {
        throw new JpegError(
          "JPEG_TOO_LARGE",
          `the image is ${read.width}×${read.height} (${read.width * read.height} pixels), over the limit of ${maxPixels}`,
          at,
        );
      }
      frame = read;
      layout = frameLayout(read);
    },
    segment(marker, start, end, at) {
      if (marker === DHT) readDht(bytes, start, end, huffman);
      else if (marker === DRI) restartInterval = readDri(bytes, start, end, at);
      else if (marker === APP14) adobeTransform = readAdobeTransform(bytes, start, end) ?? adobeTransform;
    },
    scan(header, dataStart, at) {
      signal?.throwIfAborted();
      if (++scans > MAX_SCANS) throw new JpegError("JPEG_BAD_SCAN", `more than ${MAX_SCANS} scans`, at);
      // The walk calls `frame` before any scan.
      image ??= allocate(bytes, frame!, layout!, dataStart, huffman, prefix, at);
      image.restartInterval = restartInterval;
      return decodeScan(image, header, dataStart, at);
    },
  });
  if (image === undefined || layout === undefined) {
    throw new JpegError("JPEG_SCAN_TOO_SHORT", "the image has a frame header but no scan", bytes.length);
  }
  const { coefficients, rows } = image;
  // Every component needs its data: a scan (sequential), or at least its DC scan (progressive; later
  // scans only refine, and a file may end before them as a progressive download does).
  for (let i = 0; i < layout.components.length; i++) {
    if (prefix && !image.progressive) {
      // A component the prefix did not reach: `rows` 0, and zeros (sequential scans zero as they go).
      if (!image.coded[i]) coefficients[i]!.fill(0);
      continue;
    }
    if (image.progressive ? image.progression[i]![0]! < 0 : !image.coded[i]) {
      const { id } = layout.components[i]!;
      throw new JpegError("JPEG_SCAN_TOO_SHORT", `component ${id} is in no scan`, bytes.length);
    }
  }

  return {
    width: headers.frame.width,
    height: headers.frame.height,
    precision: headers.frame.bitDepth,
    progressive: image.progressive,
    maxH: layout.maxH,
    maxV: layout.maxV,
    ...(adobeTransform === undefined ? {} : { adobeTransform }),
    components: layout.components.map(({ id, h, v, blocksWide, blocksHigh }, i) => ({
      id,
      h,
      v,
      quant: Uint16Array.from(headers.componentTables[i]!.values),
      blocksWide,
      blocksHigh,
      coefficients: coefficients[i]!,
      ...(prefix ? { rows: rows[i]! } : {}),
    })),
  };
}

/**
 * The coefficient storage, once the scan data is known to be able to fill it: every block of a sequential
 * frame needs at least 2 bits (a DC code and an end-of-block code), of a progressive one at least 1 (its
 * DC code in the first DC scan), and the bytes from the first scan on must hold them (a prefix of a
 * sequential file need not: it is decoded as far as it goes).
 */
function allocate(
  bytes: Uint8Array,
  frame: JpegFrame,
  layout: FrameLayout,
  dataStart: number,
  huffman: HuffmanSlots,
  prefix: boolean,
  at: number,
): ImageState {
  const bytesLeft = bytes.length - dataStart;
  const progressive = frame.process === "progressive";
  const blocks = totalBlocks(layout);
  const leastBits = blocks * minHuffmanBitsPerBlock(progressive);
  if (bytesLeft * 8 < leastBits && !(prefix && !progressive)) {
    throw new JpegError(
      "JPEG_SCAN_TOO_SHORT",
      `the frame has ${blocks} blocks, which need at least ${Math.ceil(leastBits / 8)} bytes of scan data; the file has ${bytesLeft} left`,
      at,
    );
  }
  const { coefficients, storage, bases } = coefficientStorage(layout);
  return {
    layout,
    progressive,
    huffman,
    restartInterval: 0,
    coefficients,
    storage,
    bases,
    progression: layout.components.map(() => new Int8Array(64).fill(-1)),
    lastNonzero: layout.components.map((c) => new Uint8Array(progressive ? c.blocksWide * c.blocksHigh : 0)),
    coded: layout.components.map(() => false),
    scan: createScanState(bytes, bytesLeft),
    prefix,
    rows: layout.components.map(() => 0),
  };
}

/**
 * Every component's coefficients in one buffer from the pool (lib/image/buffer-pool.ts), then one block
 * that takes the MCU padding blocks: fresh memory costs a page fault a page on these machines (12 MP:
 * 36 MB, ~100 ms of faults per decode against ~90 ms of decoding). Not zeroed here: the scans that reach
 * a component's blocks first (sequential scans, progressive first DC scans) zero them as they go
 * (scan-sequential.ts zeroAhead). `releaseCoefficients` gives it back.
 */
function coefficientStorage(layout: FrameLayout): Pick<ImageState, "coefficients" | "storage" | "bases"> {
  const counts = layout.components.map((c) => c.blocksWide * c.blocksHigh * 64);
  const total = counts.reduce((sum, n) => sum + n, 0);
  const storage = new Int16Array(takeBuffer((total + 64) * 2), 0, total + 64);
  const bases: number[] = [];
  let offset = 0;
  const coefficients = counts.map((n) => {
    bases.push(offset);
    const view = storage.subarray(offset, offset + n);
    offset += n;
    return view;
  });
  return { coefficients, storage, bases };
}

/** Hands decoded coefficients' storage back to the pool; none of their arrays may be used afterwards. */
export function releaseCoefficients(coefficients: JpegCoefficients): void {
  const first = coefficients.components[0]?.coefficients;
  if (first !== undefined) giveBack(first.buffer);
}

function readDri(b: Uint8Array, start: number, end: number, at: number): number {
  if (end - start !== 2)
    throw new JpegError("JPEG_BAD_LENGTH", `DRI segment of ${end - start + 2} bytes (4)`, at);
  return (b[start]! << 8) | b[start + 1]!;
}

/** The transform flag of an APP14 "Adobe" segment (libjpeg reads it from 12 bytes on), else undefined. */
function readAdobeTransform(b: Uint8Array, start: number, end: number): number | undefined {
  const adobe = [0x41, 0x64, 0x6f, 0x62, 0x65]; // "Adobe"
  if (end - start < 12 || adobe.some((byte, i) => b[start + i] !== byte)) return undefined;
  return b[start + 11];
}
