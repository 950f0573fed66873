/**
 * Progressive AC scans (T.81 G.1.2.2), first and refinement: one component, a spectral band `ss..se`,
 * end-of-band runs over several blocks (DC scans: scan-progressive-dc.ts). Each loop is bounded by the
 * band: every symbol moves at least one coefficient on. Bits are read as in scan-sequential.ts: the
 * position in a local, 32 bits by one DataView load. An AC scan is decoded a block row (or a restart
 * interval, if shorter) per call, with the scan's tables copied into module constants, for the reasons
 * scan-sequential.ts gives.
 */
import { AC_SPECIAL, extend, FAST_BITS } from "./huffman.js";
import { longCode } from "./scan-sequential.js";
import {
  BIT,
  BIT_LENGTH,
  badCode,
  dataEnded,
  EOBRUN,
  overrun,
  restart,
  type ScanState,
  ZIGZAG,
} from "./scan-state.js";

// Module constants, not imported bindings (see scan-sequential.ts).
const LOOKAHEAD = FAST_BITS;
const extendValue = extend;
const searchLongCode = longCode;
const SHIFT = 32 - LOOKAHEAD;
const SPECIAL = AC_SPECIAL;
const ZIGZAG_ORDER = ZIGZAG;
/** The AC scan's lookahead tables (huffman.ts `fast` and `ac`). */
const FAST = new Int32Array(1 << LOOKAHEAD);
const AC = new Int32Array(1 << LOOKAHEAD);
/**
 * An AC scan of one component, first (`refine` false) or refinement, into `out` (its `blocks` blocks row by
 * row, `blocksWide` a row); restart markers every `interval` blocks (0: none).
 */
export function decodeAcScan(
  s: ScanState,
  out: Int16Array,
  blocks: number,
  blocksWide: number,
  interval: number,
  refine: boolean,
): void {
  FAST.set(s.ac[0]!.fast);
  AC.set(s.ac[0]!.ac);
  let restarts = 0;
  for (let block = 0; block < blocks; ) {
    if (interval !== 0 && block !== 0 && block % interval === 0) restart(s, restarts++ & 7);
    let end = Math.min(blocks, block + blocksWide);
    if (interval !== 0) end = Math.min(end, block - (block % interval) + interval);
    if (refine) refineBlocks(s, out, block, end, blocks);
    else firstBlocks(s, out, block, end, blocks);
    block = end;
  }
}

/**
 * Blocks [from, to) of an AC first scan. Within an end-of-band run a block codes nothing: the run's blocks
 * are passed at once, so that a scan costs about its symbols, not its blocks.
 */
function firstBlocks(s: ScanState, out: Int16Array, from: number, to: number, blocks: number): void {
  const fast = FAST;
  const ac = AC;
  const zigzag = ZIGZAG_ORDER;
  const view = s.view;
  const last = s.lastNonzero;
  const { ss, se, al } = s;
  const bitLength = s.bits[BIT_LENGTH]!;
  let bit = s.bits[BIT]!;
  let eobrun = s.bits[EOBRUN]!;
  for (let block = from; block < to; block++) {
    if (eobrun > 0) {
      const passed = Math.min(eobrun, to - block);
      eobrun -= passed;
      block += passed - 1;
      continue;
    }
    const off = block * 64;
    let lastK = last[block]!;
    for (let k = ss; k <= se; ) {
      const word = view.getUint32(bit >>> 3) << (bit & 7);
      let entry = ac[word >>> SHIFT]!;
      if ((entry & SPECIAL) === 0 && entry >> 16 !== 0) {
        // Most symbols: code, run and value in one lookup.
        bit += entry & 31;
        k += (entry >> 8) & 15;
        if (k > se) throw overrunAt(s, bit);
        out[off + zigzag[k]!] = (entry >> 16) << al;
        if (k > lastK) lastK = k;
        k++;
        continue;
      }
      entry = fast[word >>> SHIFT]!;
      if (entry === 0) {
        entry = searchLongCode(s.ac[0]!, word);
        if (entry < 0) throw badCodeAt(s, bit);
      }
      bit += entry >> 8;
      const size = entry & 15;
      const run = (entry >> 4) & 15;
      if (size === 0) {
        if (run === 15) {
          k += 16;
          if (k > se + 1) throw overrunAt(s, bit);
          continue;
        }
        // End of band in this block and the next (2^run + bits) - 1 blocks.
        const extra = run === 0 ? 0 : (view.getUint32(bit >>> 3) << (bit & 7)) >>> (32 - run);
        eobrun = (1 << run) + extra - 1;
        bit += run;
        break;
      }
      k += run;
      if (k > se) throw overrunAt(s, bit);
      const bits = (view.getUint32(bit >>> 3) << (bit & 7)) >>> (32 - size);
      bit += size;
      out[off + zigzag[k]!] = extendValue(bits, size) << al;
      if (k > lastK) lastK = k;
      k++;
    }
    last[block] = lastK;
    if (bit > bitLength) {
      s.bits[BIT] = bit;
      throw dataEnded(s, block, blocks);
    }
  }
  s.bits[BIT] = bit;
  s.bits[EOBRUN] = eobrun;
}

/**
 * Blocks [from, to) of an AC refinement scan: one correction bit for every coefficient already nonzero
 * that the block's codes pass over, and new coefficients of magnitude 1 << al placed on zero ones. Past a
 * block's last nonzero coefficient there is nothing to correct, so the blocks of an end-of-band run with
 * nothing in the band are passed at once.
 */
function refineBlocks(s: ScanState, out: Int16Array, from: number, to: number, blocks: number): void {
  const fast = FAST;
  const zigzag = ZIGZAG_ORDER;
  const view = s.view;
  const last = s.lastNonzero;
  const { ss, se } = s;
  const al = s.al;
  const plus = 1 << al;
  const minus = -1 << al;
  const bitLength = s.bits[BIT_LENGTH]!;
  let bit = s.bits[BIT]!;
  let eobrun = s.bits[EOBRUN]!;
  for (let block = from; block < to; block++) {
    if (eobrun > 0) {
      const end = Math.min(to, block + eobrun);
      const start = block;
      while (block < end && last[block]! < ss) block++;
      if (block > start) {
        eobrun -= block - start;
        block--;
        continue;
      }
    }
    const off = block * 64;
    let lastK = last[block]!;
    let k = ss;
    if (eobrun === 0) {
      while (k <= se) {
        const word = view.getUint32(bit >>> 3) << (bit & 7);
        let entry = fast[word >>> SHIFT]!;
        if (entry === 0) {
          entry = searchLongCode(s.ac[0]!, word);
          if (entry < 0) throw badCodeAt(s, bit);
        }
        const length = entry >> 8;
        bit += length;
        const size = entry & 15;
        let run = (entry >> 4) & 15;
        let value = 0;
        if (size !== 0) {
          if (size !== 1) throw badCodeAt(s, bit);
          value = word << length < 0 ? plus : minus; // the bit after the code (a code is 16 bits at most)
          bit++;
        } else if (run !== 15) {
          const extra = run === 0 ? 0 : (view.getUint32(bit >>> 3) << (bit & 7)) >>> (32 - run);
          eobrun = (1 << run) + extra;
          bit += run;
          break; // the rest of the band is refined below, as in the following blocks of the run
        }
        // Pass `run` zero coefficients (correcting the nonzero ones on the way), then take the next zero one.
        for (;;) {
          if (k > lastK) {
            // Past the block's last nonzero coefficient all are zero: the run ends `run` further on.
            k += run;
            if (k > se) throw overrunAt(s, bit);
            if (value !== 0) {
              out[off + zigzag[k]!] = value;
              lastK = k;
            }
            k++;
            break;
          }
          if (k > se) throw overrunAt(s, bit);
          const z = off + zigzag[k]!;
          const coefficient = out[z]!;
          k++;
          if (coefficient !== 0) {
            out[z] = corrected(coefficient, view.getUint8(bit >>> 3) << (bit & 7), al);
            bit++;
          } else if (run === 0) {
            if (value !== 0) {
              out[z] = value;
              if (k - 1 > lastK) lastK = k - 1;
            }
            break;
          } else run--;
        }
      }
    }
    if (eobrun > 0) {
      // End of band: the nonzero coefficients up to the block's last get their correction bits.
      const end = Math.min(se, lastK);
      for (; k <= end; k++) {
        const z = off + zigzag[k]!;
        const coefficient = out[z]!;
        if (coefficient === 0) continue;
        out[z] = corrected(coefficient, view.getUint8(bit >>> 3) << (bit & 7), al);
        bit++;
      }
      eobrun--;
    }
    last[block] = lastK;
    if (bit > bitLength) {
      s.bits[BIT] = bit;
      throw dataEnded(s, block, blocks);
    }
  }
  s.bits[BIT] = bit;
  s.bits[EOBRUN] = eobrun;
}

/**
 * A nonzero coefficient after its correction bit (bit 7 of `byte`, the byte shifted into place): one whose
 * bit `al` is still 0 grows by 1 << al in its own sign's direction when the bit is 1. Arithmetic, not
 * branches: the bit is a coin toss for a predictor.
 */
function corrected(coefficient: number, byte: number, al: number): number {
  const correct = (byte >>> 7) & ~(coefficient >> al) & 1;
  const sign = coefficient >> 31;
  return coefficient + ((((1 << al) ^ sign) - sign) & -correct);
}

function overrunAt(s: ScanState, bit: number): Error {
  s.bits[BIT] = bit;
  return overrun(s, "the scan's band");
}

function badCodeAt(s: ScanState, bit: number): Error {
  s.bits[BIT] = bit;
  return badCode(s);
}
