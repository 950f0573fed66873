/**
 * Block decoders of progressive scans (T.81 G.1.2): DC first and refinement (interleaved), AC first and
 * refinement (one component, a spectral band `ss..se`, end-of-band runs over several blocks). Each loop
 * is bounded by the band: every symbol moves at least one coefficient on. Bits are read as in
 * scan-sequential.ts: the position in a local, 32 bits by one DataView load.
 */
import { AC_SPECIAL, extend, FAST_BITS, type HuffmanTable } from "./huffman.js";
import { decodeDcDifference, longCode } from "./scan-sequential.js";
import { BIT, badCode, EOBRUN, overrun, type ScanState, ZIGZAG } from "./scan-state.js";

export function decodeDcFirstBlock(s: ScanState, out: Int16Array, off: number, c: number): void {
  const dc = s.predictors[c]! + decodeDcDifference(s, s.dc[c]!);
  s.predictors[c] = dc;
  out[off] = dc << s.al;
}

export function decodeDcRefineBlock(s: ScanState, out: Int16Array, off: number): void {
  const bit = s.bits[BIT]!;
  s.bits[BIT] = bit + 1;
  if ((s.view.getUint8(bit >>> 3) << (bit & 7)) & 0x80) out[off] |= 1 << s.al;
}

export function decodeAcFirstBlock(s: ScanState, out: Int16Array, off: number): void {
  const st = s.bits;
  if (st[EOBRUN]! > 0) {
    st[EOBRUN]!--;
    return;
  }
  const table = s.ac[0]!;
  const ac = table.ac;
  const view = s.view;
  const zigzag = ZIGZAG;
  const { se, al } = s;
  const last = s.lastNonzero;
  const block = off >> 6;
  let bit = st[BIT]!;
  for (let k = s.ss; k <= se; ) {
    let word = view.getUint32(bit >>> 3) << (bit & 7);
    let entry = ac[word >>> (32 - FAST_BITS)]!;
    if ((entry & AC_SPECIAL) === 0 && entry >> 16 !== 0) {
      bit += entry & 31;
      k += (entry >> 8) & 15;
      if (k > se) throw overrunAt(s, bit);
      out[off + zigzag[k]!] = (entry >> 16) << al;
      if (k > last[block]!) last[block] = k;
      k++;
      continue;
    }
    entry = symbol(s, table, word, bit);
    bit += entry >> 8;
    const size = entry & 15;
    const run = (entry >> 4) & 15;
    word = view.getUint32(bit >>> 3) << (bit & 7);
    if (size === 0) {
      if (run === 15) {
        k += 16;
        if (k > se + 1) throw overrunAt(s, bit);
        continue;
      }
      // End of band in this block and the next (2^run + bits) - 1 blocks.
      st[EOBRUN] = (1 << run) + (run === 0 ? 0 : word >>> (32 - run)) - 1;
      bit += run;
      break;
    }
    k += run;
    if (k > se) throw overrunAt(s, bit);
    const bits = word >>> (32 - size);
    bit += size;
    out[off + zigzag[k]!] = extend(bits, size) << al;
    if (k > last[block]!) last[block] = k;
    k++;
  }
  st[BIT] = bit;
}

/**
 * Refinement of a band: one correction bit for every coefficient already nonzero that the block's codes
 * pass over, and new coefficients of magnitude 1 << al placed on zero ones.
 */
export function decodeAcRefineBlock(s: ScanState, out: Int16Array, off: number): void {
  const st = s.bits;
  const table = s.ac[0]!;
  const view = s.view;
  const zigzag = ZIGZAG;
  const se = s.se;
  const plus = 1 << s.al;
  const minus = -1 << s.al;
  const last = s.lastNonzero;
  const block = off >> 6;
  let bit = st[BIT]!;
  let k = s.ss;
  if (st[EOBRUN] === 0) {
    while (k <= se) {
      const entry = symbol(s, table, view.getUint32(bit >>> 3) << (bit & 7), bit);
      bit += entry >> 8;
      const size = entry & 15;
      let run = (entry >> 4) & 15;
      let value = 0;
      if (size !== 0) {
        if (size !== 1) throw badCodeAt(s, bit);
        value = (view.getUint8(bit >>> 3) << (bit & 7)) & 0x80 ? plus : minus;
        bit++;
      } else if (run !== 15) {
        const extra = run === 0 ? 0 : (view.getUint32(bit >>> 3) << (bit & 7)) >>> (32 - run);
        st[EOBRUN] = (1 << run) + extra;
        bit += run;
        break; // the rest of the band is refined below, as in the following blocks of the run
      }
      // Pass `run` zero coefficients (correcting the nonzero ones on the way), then take the next zero one.
      for (;;) {
        if (k > se) throw overrunAt(s, bit);
        const z = off + zigzag[k]!;
        const coefficient = out[z]!;
        k++;
        if (coefficient !== 0) {
          if ((view.getUint8(bit >>> 3) << (bit & 7)) & 0x80 && (coefficient & plus) === 0) {
            out[z] = coefficient >= 0 ? coefficient + plus : coefficient + minus;
          }
          bit++;
        } else if (run === 0) {
          if (value !== 0) {
            out[z] = value;
            if (k - 1 > last[block]!) last[block] = k - 1;
          }
          break;
        } else run--;
      }
    }
    if (st[EOBRUN] === 0) {
      st[BIT] = bit;
      return;
    }
  }
  // Past the block's last nonzero coefficient there is nothing to correct.
  const end = Math.min(se, last[block]!);
  for (; k <= end; k++) {
    const z = off + zigzag[k]!;
    const coefficient = out[z]!;
    if (coefficient === 0) continue;
    if ((view.getUint8(bit >>> 3) << (bit & 7)) & 0x80 && (coefficient & plus) === 0) {
      out[z] = coefficient >= 0 ? coefficient + plus : coefficient + minus;
    }
    bit++;
  }
  st[EOBRUN]!--;
  st[BIT] = bit;
}

/** The Huffman symbol at the top of `word`: `(code length << 8) | symbol`. */
function symbol(s: ScanState, table: HuffmanTable, word: number, bit: number): number {
  const entry = table.fast[word >>> (32 - FAST_BITS)]!;
  if (entry !== 0) return entry;
  const slow = longCode(table, word);
  if (slow < 0) throw badCodeAt(s, bit);
  return slow;
}

function overrunAt(s: ScanState, bit: number): Error {
  s.bits[BIT] = bit;
  return overrun(s, "the scan's band");
}

function badCodeAt(s: ScanState, bit: number): Error {
  s.bits[BIT] = bit;
  return badCode(s);
}
