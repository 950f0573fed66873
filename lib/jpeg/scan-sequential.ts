/**
 * Sequential (baseline and extended) scans, the hot path of the whole decoder; and what the progressive
 * decoders share with it (long codes, the MCU layout). Written for V8: an MCU row per call, with the bit
 * position in a local; 32 bits read with one DataView load wherever they are needed (the segment has no
 * stuffing and ends in zeros, see scan-state.ts); the scan's lookahead tables copied into module
 * constants, whose addresses V8 builds into the code (a table reached through an object is reloaded and
 * checked at every symbol); no call in the loops but the rare long code's small search, which V8
 * inlines; no allocation.
 */
import { AC_EOB, AC_LONG, AC_SPECIAL, extend, FAST_BITS, type HuffmanTable } from "./huffman.js";
import {
  BIT,
  BIT_LENGTH,
  badCode,
  dataEnded,
  overrun,
  restart,
  type ScanState,
  ZIGZAG,
} from "./scan-state.js";

// Module constants, not imported bindings: V8 folds these into the code, and re-reads (and checks) an
// imported binding (or an exported one, in its own module) at every use.
const LOOKAHEAD = FAST_BITS;
const extendValue = extend;
const SHIFT = 32 - LOOKAHEAD;
const FIRST_LONG_LENGTH = LOOKAHEAD + 1;
const EOB = AC_EOB;
const LONG = AC_LONG;
const SPECIAL = AC_SPECIAL;
const ZIGZAG_ORDER = ZIGZAG;

/** The lookahead tables of the scan being decoded, by the component's position in the scan. */
const DC_FAST = new Int32Array(4 << LOOKAHEAD);
const AC_FAST = new Int32Array(4 << LOOKAHEAD);
/** By block of an MCU (at most 10): its component's position in the scan, and where it is in the MCU. */
const SLOT_COMPONENT = new Int32Array(10);
const SLOT_X = new Int32Array(10);
const SLOT_Y = new Int32Array(10);
/** By the component's position in the scan: sampling factors, block grid, first coefficient in storage. */
const H = new Int32Array(4);
const V = new Int32Array(4);
const BLOCKS_WIDE = new Int32Array(4);
const BLOCKS_HIGH = new Int32Array(4);
const BASE = new Int32Array(4);
const LAYOUT: McuLayout = {
  slotComponent: SLOT_COMPONENT,
  slotX: SLOT_X,
  slotY: SLOT_Y,
  h: H,
  v: V,
  blocksWide: BLOCKS_WIDE,
  blocksHigh: BLOCKS_HIGH,
  base: BASE,
};
/** Carried from MCU row to row: MCUs to the next restart marker (never 0 without), markers passed, blocks per MCU. */
const RUN = new Int32Array(3);
const UNTIL_RESTART = 0;
const RESTARTS = 1;
const SLOTS = 2;

/** A component of a scan decoded by MCUs, and where its blocks are in the frame's storage. */
export interface SequentialComponent {
  readonly h: number;
  readonly v: number;
  readonly blocksWide: number;
  readonly blocksHigh: number;
  /** Index of its first coefficient in the storage. */
  readonly base: number;
}

/** Where a scan's MCUs put their blocks, in a decoder's module constants (see {@link layOutMcus}). */
export interface McuLayout {
  /** By block of an MCU (at most 10): its component's position in the scan, and where it is in the MCU. */
  readonly slotComponent: Int32Array;
  readonly slotX: Int32Array;
  readonly slotY: Int32Array;
  /** By the component's position in the scan: sampling factors, block grid, first coefficient in storage. */
  readonly h: Int32Array;
  readonly v: Int32Array;
  readonly blocksWide: Int32Array;
  readonly blocksHigh: Int32Array;
  readonly base: Int32Array;
}

/** Fills `layout` for a scan of `components`; returns the blocks of an MCU. */
export function layOutMcus(components: readonly SequentialComponent[], layout: McuLayout): number {
  let slots = 0;
  for (let c = 0; c < components.length; c++) {
    const { h, v, blocksWide, blocksHigh, base } = components[c]!;
    layout.h[c] = h;
    layout.v[c] = v;
    layout.blocksWide[c] = blocksWide;
    layout.blocksHigh[c] = blocksHigh;
    layout.base[c] = base;
    for (let y = 0; y < v; y++) {
      for (let x = 0; x < h; x++, slots++) {
        layout.slotComponent[slots] = c;
        layout.slotX[slots] = x;
        layout.slotY[slots] = y;
      }
    }
  }
  return slots;
}

/**
 * The length and symbol of a code longer than the lookahead at the top of `word` (at least 16 valid
 * bits), `(length << 8) | symbol`; −1 when no code of the table starts with them.
 */
function searchLongCode(table: HuffmanTable, word: number): number {
  const maxCode = table.maxCode;
  let length = FIRST_LONG_LENGTH;
  // maxCode[17] is above every 17-bit value: the search stops there.
  while (word >>> (32 - length) > maxCode[length]!) length++;
  if (length > 16) return -1;
  return (length << 8) | table.symbols[(word >>> (32 - length)) + table.valueOffset[length]!]!;
}

/** {@link searchLongCode}, for the progressive decoders (this module calls it by its own name, see above). */
export const longCode = searchLongCode;

/**
 * Decodes a sequential scan of `components` (one: its blocks row by row; several: MCUs of `mcusWide` ×
 * `mcusHigh`, T.81 A.2) into `storage`, whose last 64 values take the MCUs' padding blocks. Each block is
 * its DC difference, then AC run/size codes to an end-of-block code or coefficient 63. The decoder writes
 * only the nonzero coefficients, so it zeroes the blocks an MCU row ahead of itself ({@link zeroAhead}).
 */
export function decodeSequentialScan(
  s: ScanState,
  storage: Int16Array,
  components: readonly SequentialComponent[],
  mcusWide: number,
  mcusHigh: number,
  interval: number,
): void {
  const slots = layOutMcus(components, LAYOUT);
  for (let c = 0; c < components.length; c++) {
    DC_FAST.set(s.dc[c]!.fast, c << LOOKAHEAD);
    AC_FAST.set(s.ac[c]!.ac, c << LOOKAHEAD);
  }
  RUN[UNTIL_RESTART] = interval === 0 ? -1 : interval;
  RUN[RESTARTS] = 0;
  RUN[SLOTS] = slots;
  for (let mcuY = 0; mcuY < mcusHigh; mcuY++) {
    zeroAhead(storage, LAYOUT, components.length, mcuY);
    decodeMcuRow(s, storage, mcuY, mcusWide, mcusHigh, interval);
  }
}

/**
 * One MCU row of a sequential scan. A function of its own, called row after row, so that V8 compiles it
 * as a function: a loop that runs long in a function called once (a whole scan) runs as on-stack
 * replacement code, which does not build the module's constants (the tables) into the code.
 */
function decodeMcuRow(
  s: ScanState,
  storage: Int16Array,
  mcuY: number,
  mcusWide: number,
  mcusHigh: number,
  interval: number,
): void {
  const slots = RUN[SLOTS]!;
  const padding = storage.length - 64;
  const predictors = s.predictors;
  const view = s.view;
  const zigzag = ZIGZAG_ORDER;
  const dcFast = DC_FAST;
  const acFast = AC_FAST;
  let untilRestart = RUN[UNTIL_RESTART]!;
  let bitLength = s.bits[BIT_LENGTH]!;
  let bit = s.bits[BIT]!;
  for (let mcuX = 0; mcuX < mcusWide; mcuX++) {
    if (untilRestart === 0) {
      s.unit = mcuY * mcusWide + mcuX; // where a file that ends here was cut (lib/jpeg/scan.ts cutScan)
      restart(s, RUN[RESTARTS]!++ & 7); // a new segment: the bits from 0, the predictors from 0
      bit = 0;
      bitLength = s.bits[BIT_LENGTH]!;
      untilRestart = interval;
    }
    untilRestart--;
    for (let slot = 0; slot < slots; slot++) {
      const c = SLOT_COMPONENT[slot]!;
      const bx = mcuX * H[c]! + SLOT_X[slot]!;
      const by = mcuY * V[c]! + SLOT_Y[slot]!;
      const bw = BLOCKS_WIDE[c]!;
      const off = bx < bw && by < BLOCKS_HIGH[c]! ? BASE[c]! + (by * bw + bx) * 64 : padding;
      const fast = c << LOOKAHEAD;

      // The DC difference.
      let word = view.getUint32(bit >>> 3) << (bit & 7); // at least 25 valid bits, first at the top
      let entry = dcFast[fast | (word >>> SHIFT)]!;
      if (entry === 0) {
        entry = searchLongCode(s.dc[c]!, word);
        if (entry < 0) throw badCodeAt(s, bit, mcuY * mcusWide + mcuX);
      }
      bit += entry >> 8;
      let size = entry & 15;
      let dc = predictors[c]!;
      if (size !== 0) {
        dc += extendValue((view.getUint32(bit >>> 3) << (bit & 7)) >>> (32 - size), size);
        bit += size;
      }
      predictors[c] = dc;
      storage[off] = dc;

      // AC codes to the end of the block.
      for (let k = 1; k < 64; k++) {
        word = view.getUint32(bit >>> 3) << (bit & 7);
        entry = acFast[fast | (word >>> SHIFT)]!;
        if ((entry & SPECIAL) === 0) {
          // Most symbols: code, run and value in one lookup (sixteen zeros: a run of 15 and the value 0,
          // written over a zero).
          const n = entry & 31;
          bit += n;
          k += (entry >> 8) & 15;
          if (k > 63) throw overrunAt(s, bit, mcuY * mcusWide + mcuX);
          storage[off + zigzag[k]!] = entry >> 16;
          if (k === 63) break;
          // The next symbol from the same word, when it is a common one too: at least 15 of its bits are
          // left (n ≤ 10), the lookahead needs 10.
          word <<= n;
          entry = acFast[fast | (word >>> SHIFT)]!;
          if ((entry & SPECIAL) !== 0) continue;
          bit += entry & 31;
          k += ((entry >> 8) & 15) + 1;
          if (k > 63) throw overrunAt(s, bit, mcuY * mcusWide + mcuX);
          storage[off + zigzag[k]!] = entry >> 16;
          continue;
        }
        if ((entry & EOB) !== 0) {
          bit += entry & 31;
          break;
        }
        if ((entry & LONG) !== 0) {
          // A code longer than the lookahead: its symbol, as an entry whose magnitude bits are to read.
          entry = searchLongCode(s.ac[c]!, word);
          if (entry < 0) throw badCodeAt(s, bit, mcuY * mcusWide + mcuX);
          if ((entry & 15) === 0 && (entry & 0xff) !== 0xf0) {
            bit += entry >> 8;
            break;
          }
          entry = ((entry & 15) << 12) | ((entry & 0xf0) << 4) | (entry >> 8);
        }
        bit += entry & 31;
        k += (entry >> 8) & 15;
        if (k > 63) throw overrunAt(s, bit, mcuY * mcusWide + mcuX);
        size = (entry >> 12) & 15;
        if (size === 0) continue; // sixteen zeros, by a long code
        storage[off + zigzag[k]!] = extendValue(
          (view.getUint32(bit >>> 3) << (bit & 7)) >>> (32 - size),
          size,
        );
        bit += size;
      }
      // Past its data a block reads zeros, and the segment's padding holds more than one block's worth.
      if (bit > bitLength) {
        s.bits[BIT] = bit;
        s.unit = mcuY * mcusWide + mcuX;
        throw dataEnded(s, s.unit, mcusWide * mcusHigh);
      }
    }
  }
  s.bits[BIT] = bit;
  RUN[UNTIL_RESTART] = untilRestart;
}

/**
 * Before MCU row `mcuY` is decoded: zeroes the blocks of the next one (and at the first, of the first too)
 * of each of the scan's `components`. For decoders that write only nonzero coefficients into storage that
 * holds whatever its last user left: the blocks are zeroed a row ahead, so that the rows written are in
 * cache already, where zeroing the whole storage first would cost a pass over it (12 MP: 36 MB, out of
 * cache again by the time it is written).
 */
export function zeroAhead(storage: Int16Array, layout: McuLayout, components: number, mcuY: number): void {
  for (let c = 0; c < components; c++) {
    const rows = layout.blocksHigh[c]!;
    const wide = layout.blocksWide[c]! * 64;
    const v = layout.v[c]!;
    const start = Math.min((mcuY === 0 ? 0 : mcuY + 1) * v, rows) * wide;
    const end = Math.min((mcuY + 2) * v, rows) * wide;
    if (end > start) storage.fill(0, layout.base[c]! + start, layout.base[c]! + end);
  }
}

/** The error of a block that overran, at `bit` of the unit (MCU, or block) `unit`. */
function overrunAt(s: ScanState, bit: number, unit: number): Error {
  s.bits[BIT] = bit;
  s.unit = unit;
  return overrun(s, "coefficient 63");
}

function badCodeAt(s: ScanState, bit: number, unit: number): Error {
  s.bits[BIT] = bit;
  s.unit = unit;
  return badCode(s);
}
