/**
 * Progressive DC scans (T.81 G.1.2.1), first and refinement: one component's blocks row by row, or MCUs of
 * several, an MCU row per call with the scan's tables and the MCUs' layout in module constants, as
 * scan-sequential.ts decodes (see there why).
 */
import { extend, FAST_BITS } from "./huffman.js";
import {
  layOutMcus,
  longCode,
  type McuLayout,
  type SequentialComponent,
  zeroAhead,
} from "./scan-sequential.js";
import { BIT, BIT_LENGTH, badCode, dataEnded, restart, type ScanState } from "./scan-state.js";

const LOOKAHEAD = FAST_BITS;
const extendValue = extend;
const searchLongCode = longCode;
const SHIFT = 32 - LOOKAHEAD;

/** By the component's position in the scan, its DC `fast` table; and where the MCUs put their blocks. */
const DC_FAST = new Int32Array(4 << LOOKAHEAD);
const SLOT_COMPONENT = new Int32Array(10);
const SLOT_X = new Int32Array(10);
const SLOT_Y = new Int32Array(10);
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

/**
 * A DC scan, first (`refine` false) or refinement, of `components` (one: its blocks row by row; several:
 * MCUs of `mcusWide` × `mcusHigh`) into `storage`, whose last 64 values take the MCUs' padding blocks; an
 * MCU row per call, as scan-sequential.ts decodes.
 */
export function decodeDcScan(
  s: ScanState,
  storage: Int16Array,
  components: readonly SequentialComponent[],
  mcusWide: number,
  mcusHigh: number,
  interval: number,
  refine: boolean,
): void {
  const slots = layOutMcus(components, LAYOUT);
  if (!refine) for (let c = 0; c < components.length; c++) DC_FAST.set(s.dc[c]!.fast, c << LOOKAHEAD);
  RUN[UNTIL_RESTART] = interval === 0 ? -1 : interval;
  RUN[RESTARTS] = 0;
  RUN[SLOTS] = slots;
  for (let mcuY = 0; mcuY < mcusHigh; mcuY++) {
    // A component's first DC scan is the first to reach its blocks (AC scans and refinements come after
    // it), and the storage is not zeroed beforehand: the scan zeroes them as sequential scans do.
    if (!refine) zeroAhead(storage, LAYOUT, components.length, mcuY);
    dcRow(s, storage, mcuY, mcusWide, mcusHigh, interval, refine);
  }
}

function dcRow(
  s: ScanState,
  storage: Int16Array,
  mcuY: number,
  mcusWide: number,
  mcusHigh: number,
  interval: number,
  refine: boolean,
): void {
  const slots = RUN[SLOTS]!;
  const padding = storage.length - 64;
  const predictors = s.predictors;
  const view = s.view;
  const dcFast = DC_FAST;
  const al = s.al;
  let untilRestart = RUN[UNTIL_RESTART]!;
  let bitLength = s.bits[BIT_LENGTH]!;
  let bit = s.bits[BIT]!;
  for (let mcuX = 0; mcuX < mcusWide; mcuX++) {
    if (untilRestart === 0) {
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
      const word = view.getUint32(bit >>> 3) << (bit & 7);
      if (refine) {
        storage[off] |= (word >>> 31) << al;
        bit++;
      } else {
        let entry = dcFast[(c << LOOKAHEAD) | (word >>> SHIFT)]!;
        if (entry === 0) {
          entry = searchLongCode(s.dc[c]!, word);
          if (entry < 0) throw badCodeAt(s, bit);
        }
        bit += entry >> 8;
        const size = entry & 15;
        let dc = predictors[c]!;
        if (size !== 0) {
          dc += extendValue((view.getUint32(bit >>> 3) << (bit & 7)) >>> (32 - size), size);
          bit += size;
        }
        predictors[c] = dc;
        storage[off] = dc << al;
      }
      if (bit > bitLength) {
        s.bits[BIT] = bit;
        throw dataEnded(s, mcuY * mcusWide + mcuX, mcusWide * mcusHigh);
      }
    }
  }
  s.bits[BIT] = bit;
  RUN[UNTIL_RESTART] = untilRestart;
}

function badCodeAt(s: ScanState, bit: number): Error {
  s.bits[BIT] = bit;
  return badCode(s);
}
