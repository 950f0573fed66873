/**
 * Block decoders of sequential (baseline and extended) scans, and the DC difference every DC-coding scan
 * reads. The hot path of the whole decoder, written for V8: the bit position in a local, 32 bits read
 * with one DataView load wherever they are needed (the segment has no stuffing and ends in zeros, see
 * scan-state.ts), 10-bit lookahead tables, no call in the loop but the rare long code, no allocation.
 */
import { decodeSlow, type HuffmanTable } from "./huffman.js";
import { BIT, badCode, overrun, type ScanState, ZIGZAG } from "./scan-state.js";

/** Reads one DC difference (T.81 F.2.2.1): a magnitude category by Huffman code, then that many bits. */
export function decodeDcDifference(s: ScanState, table: HuffmanTable): number {
  const view = s.view;
  let bit = s.bits[BIT]!;
  let word = view.getUint32(bit >>> 3) << (bit & 7); // at least 25 valid bits, first at the top
  let entry = table.fast[word >>> 22]!;
  if (entry === 0) {
    entry = decodeSlow(table, word >>> 16);
    if (entry < 0) throw badCode(s);
  }
  bit += entry >> 8;
  const size = entry & 15;
  let difference = 0;
  if (size !== 0) {
    word = view.getUint32(bit >>> 3) << (bit & 7);
    const bits = word >>> (32 - size);
    bit += size;
    difference = bits < 1 << (size - 1) ? bits - (1 << size) + 1 : bits;
  }
  s.bits[BIT] = bit;
  return difference;
}

/**
 * One block of a sequential scan: the DC difference, then AC run/size codes to an end-of-block code or
 * coefficient 63. Writes only the nonzero coefficients: the block must be zero on entry.
 */
export function decodeSequentialBlock(s: ScanState, out: Int16Array, off: number, c: number): void {
  const predictors = s.predictors;
  const dc = predictors[c]! + decodeDcDifference(s, s.dc[c]!);
  predictors[c] = dc;
  out[off] = dc;

  const table = s.ac[c]!;
  const fast = table.fast;
  const fastAc = table.fastAc;
  const zigzag = ZIGZAG; // a local: an imported binding is re-read (and checked) at every use
  const view = s.view;
  let bit = s.bits[BIT]!;
  for (let k = 1; k < 64; ) {
    let word = view.getUint32(bit >>> 3) << (bit & 7);
    // Most symbols: code, run and value in one lookup.
    let entry = fastAc[word >>> 22]!;
    if (entry !== 0) {
      bit += entry & 15;
      const value = entry >> 12;
      if (value === 0) {
        if (entry < 0xf0) break; // end of block
        k += 16; // sixteen zeros
        if (k > 64) throw overrunAt(s, bit);
        continue;
      }
      k += (entry >> 4) & 15;
      if (k > 63) throw overrunAt(s, bit);
      out[off + zigzag[k]!] = value;
      k++;
      continue;
    }
    entry = fast[word >>> 22]!;
    if (entry === 0) {
      entry = decodeSlow(table, word >>> 16);
      if (entry < 0) {
        s.bits[BIT] = bit;
        throw badCode(s);
      }
    }
    bit += entry >> 8;
    const size = entry & 15;
    const run = (entry >> 4) & 15;
    if (size === 0) {
      if (run !== 15) break; // end of block
      k += 16; // sixteen zeros
      if (k > 64) throw overrunAt(s, bit);
      continue;
    }
    k += run;
    if (k > 63) throw overrunAt(s, bit);
    word = view.getUint32(bit >>> 3) << (bit & 7);
    const bits = word >>> (32 - size);
    bit += size;
    out[off + zigzag[k]!] = bits < 1 << (size - 1) ? bits - (1 << size) + 1 : bits;
    k++;
  }
  s.bits[BIT] = bit;
}

function overrunAt(s: ScanState, bit: number): Error {
  s.bits[BIT] = bit;
  return overrun(s, "coefficient 63");
}
