/**
 * One scan's entropy-coded data into the frame's coefficient storage: which block decoder, which tables,
 * the order of the blocks (T.81 A.2: one component's blocks row by row, or MCUs of several), and the
 * restart markers between intervals.
 */
import { JpegError } from "./errors.js";
import { buildTable, type HuffmanSlots, type HuffmanTable, standardTable } from "./huffman.js";
import type { FrameLayout } from "./layout.js";
import { decodeAcScan } from "./scan-progressive.js";
import { decodeDcScan } from "./scan-progressive-dc.js";
import { decodeSequentialScan } from "./scan-sequential.js";
import { loadSegment, readPastData, type ScanState } from "./scan-state.js";
import type { ScanHeader } from "./segments.js";

/** What the scans of one frame share. */
export interface ImageState {
  readonly layout: FrameLayout;
  readonly progressive: boolean;
  /** By class (0 DC, 1 AC) and slot; replaced by DHT segments between scans. */
  readonly huffman: HuffmanSlots;
  /** MCUs per restart interval; 0: none. Set by DRI segments between scans. */
  restartInterval: number;
  /** By frame component: quantized coefficients, blocks row by row, natural order in each. */
  readonly coefficients: readonly Int16Array[];
  /** Every component's coefficients (`coefficients` are views of it) and then one block for MCU padding. */
  readonly storage: Int16Array;
  /** By frame component: the index of its first coefficient in `storage`. */
  readonly bases: readonly number[];
  /** Progressive: by frame component and coefficient, the Al of its last scan; −1 before its first. */
  readonly progression: readonly Int8Array[];
  /** Progressive: by frame component and block, the zigzag index of its last nonzero AC coefficient. */
  readonly lastNonzero: readonly Uint8Array[];
  /** Sequential: whether a scan has decoded the component already. */
  readonly coded: boolean[];
  /** The entropy decoder, sized for the longest scan. */
  readonly scan: ScanState;
  /**
   * The bytes may be a prefix of the file (`decodeCoefficients`'s `prefix`): a sequential scan that the
   * prefix cuts ends there, keeping the rows of blocks it decoded whole.
   */
  readonly prefix: boolean;
  /** By frame component: rows of its blocks decoded whole (all of them once a sequential scan ends). */
  readonly rows: number[];
}

/** Which decoder a scan uses: sequential scans have their own (scan-sequential.ts), progressive by block. */
enum Kind {
  Sequential,
  DcFirst,
  DcRefine,
  AcFirst,
  AcRefine,
}

/** Decodes one scan; returns the offset where its data reading stopped (at the next marker, usually). */
export function decodeScan(image: ImageState, scan: ScanHeader, dataStart: number, at: number): number {
  const { layout } = image;
  const indexes = scan.components.map((c) => c.index);
  if (new Set(indexes).size !== indexes.length) {
    throw new JpegError("JPEG_BAD_SCAN", "a scan names a component twice", at);
  }
  const mcuBlocks = indexes.reduce((n, i) => n + layout.components[i]!.h * layout.components[i]!.v, 0);
  if (indexes.length > 1 && mcuBlocks > 10) {
    const message = `an interleaved scan with ${mcuBlocks} blocks per MCU (at most 10)`;
    throw new JpegError("JPEG_BAD_SCAN", message, at);
  }

  const s = image.scan;
  const kind = image.progressive
    ? progressiveDecoder(image, scan, s, at)
    : sequentialDecoder(image, scan, s, at);
  loadSegment(s, dataStart);
  const ac = kind === Kind.AcFirst || kind === Kind.AcRefine;
  const decode = (): number =>
    ac ? decodeAc(image, indexes[0]!, s, kind) : decodeByMcus(image, indexes, s, kind);
  if (!image.prefix || image.progressive) {
    const end = decode();
    for (const i of indexes) image.rows[i] = layout.components[i]!.blocksHigh;
    return end;
  }
  try {
    const end = decode();
    for (const i of indexes) image.rows[i] = layout.components[i]!.blocksHigh;
    return end;
  } catch (error) {
    return cutScan(image, indexes, indexes.length === 1, s, error);
  }
}

/** A scan decoded by MCUs (sequential, or progressive DC); returns where its data stopped. */
function decodeByMcus(image: ImageState, indexes: readonly number[], s: ScanState, kind: Kind): number {
  const { layout } = image;
  const single = indexes.length === 1;
  const components = indexes.map((i) => {
    const { h, v, blocksWide, blocksHigh } = layout.components[i]!;
    // A scan of one component codes its blocks row by row: MCUs of one block.
    return { h: single ? 1 : h, v: single ? 1 : v, blocksWide, blocksHigh, base: image.bases[i]! };
  });
  const [mcusWide, mcusHigh] = single
    ? [components[0]!.blocksWide, components[0]!.blocksHigh]
    : [layout.mcusWide, layout.mcusHigh];
  const { storage, restartInterval } = image;
  if (kind === Kind.Sequential) {
    decodeSequentialScan(s, storage, components, mcusWide, mcusHigh, restartInterval);
  } else {
    const refine = kind === Kind.DcRefine;
    decodeDcScan(s, storage, components, mcusWide, mcusHigh, restartInterval, refine);
  }
  return s.segmentEnd;
}

/** A progressive AC scan (one component); returns where its data stopped. */
function decodeAc(image: ImageState, index: number, s: ScanState, kind: Kind): number {
  const { blocksWide, blocksHigh } = image.layout.components[index]!;
  const out = image.coefficients[index]!;
  decodeAcScan(s, out, blocksWide * blocksHigh, blocksWide, image.restartInterval, kind === Kind.AcRefine);
  return s.segmentEnd;
}

/**
 * A sequential scan whose data a prefix of the file cuts: the error its decoding ended with, when it was
 * the cut's (reading past data that runs to the end of the bytes, or the end where a restart marker
 * belongs), leaves the rows of blocks decoded whole before the cut and zeros after them; any other error is
 * the file's own and is thrown on. Returns the end of the bytes: nothing follows.
 */
function cutScan(
  image: ImageState,
  indexes: number[],
  single: boolean,
  s: ScanState,
  error: unknown,
): number {
  const atEnd = s.segmentEnd >= s.data.length;
  const cut = error instanceof JpegError && atEnd && (readPastData(s) || error.code === "JPEG_TRUNCATED");
  if (!cut) throw error;
  const { layout } = image;
  for (const i of indexes) {
    const { v, blocksWide, blocksHigh } = layout.components[i]!;
    // One component's blocks go row by row; an interleaved scan's MCUs hold v rows of each component's.
    const rows = single ? Math.floor(s.unit / blocksWide) : Math.floor(s.unit / layout.mcusWide) * v;
    image.rows[i] = Math.min(rows, blocksHigh);
    image.coefficients[i]!.fill(0, image.rows[i]! * blocksWide * 64);
  }
  return s.data.length;
}

function sequentialDecoder(image: ImageState, scan: ScanHeader, s: ScanState, at: number): Kind {
  s.dc = scan.components.map((c) => tableFor(image.huffman, 0, c.dcTable, at));
  s.ac = scan.components.map((c) => tableFor(image.huffman, 1, c.acTable, at));
  for (const { index } of scan.components) image.coded[index] = true;
  return Kind.Sequential;
}

function progressiveDecoder(image: ImageState, scan: ScanHeader, s: ScanState, at: number): Kind {
  const { ss, se, ah, al } = scan;
  const dc = ss === 0;
  const badParameters =
    (dc ? se !== 0 : ss > se || se > 63 || scan.components.length !== 1) ||
    (ah !== 0 && al !== ah - 1) ||
    al > 13;
  if (badParameters) {
    const what = dc ? "a DC scan" : `an AC scan of ${scan.components.length} components`;
    throw new JpegError("JPEG_BAD_PROGRESSION", `${what} with Ss=${ss} Se=${se} Ah=${ah} Al=${al}`, at);
  }
  for (const { index } of scan.components) {
    const bits = image.progression[index]!;
    const id = image.layout.components[index]!.id;
    if (!dc && bits[0]! < 0) {
      throw new JpegError("JPEG_BAD_PROGRESSION", `an AC scan of component ${id} before its DC scan`, at);
    }
    for (let k = ss; k <= se; k++) {
      if (ah === 0 ? bits[k] !== -1 : bits[k] !== ah) {
        const what = ah === 0 ? "codes again" : `refines from bit ${ah}`;
        throw new JpegError(
          "JPEG_BAD_PROGRESSION",
          `a scan ${what} coefficient ${k} of component ${id}, last coded to bit ${bits[k]}`,
          at,
        );
      }
    }
    bits.fill(al, ss, se + 1);
  }
  s.ss = ss;
  s.se = se;
  s.al = al;
  if (dc) {
    if (ah !== 0) return Kind.DcRefine;
    s.dc = scan.components.map((c) => tableFor(image.huffman, 0, c.dcTable, at));
    return Kind.DcFirst;
  }
  s.ac = [tableFor(image.huffman, 1, scan.components[0]!.acTable, at)];
  s.lastNonzero = image.lastNonzero[scan.components[0]!.index]!;
  return ah === 0 ? Kind.AcFirst : Kind.AcRefine;
}

const standardTables: HuffmanTable[][] = [[], []];

/** The table in a slot; slots 0 and 1 left undefined get T.81 Annex K's, as libjpeg gives them. */
function tableFor(slots: HuffmanSlots, tableClass: 0 | 1, slot: number, at: number): HuffmanTable {
  const table = slots[tableClass][slot];
  if (table !== undefined) return table;
  if (slot !== 0 && slot !== 1) {
    const kind = tableClass === 0 ? "DC" : "AC";
    throw new JpegError(
      "JPEG_MISSING_HUFFMAN_TABLE",
      `the scan uses ${kind} Huffman table ${slot}, never defined`,
      at,
    );
  }
  let standard = standardTables[tableClass]![slot];
  if (standard === undefined) {
    const { counts, symbols } = standardTable(tableClass, slot);
    standard = buildTable(counts, symbols, at);
    standardTables[tableClass]![slot] = standard;
  }
  return standard;
}
