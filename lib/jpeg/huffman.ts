/**
 * Huffman tables (DHT, T.81 B.2.4.2 and C) in the shape the scan decoders read: a 10-bit lookahead for the
 * common short codes, a combined run/value lookahead for AC codes, and the canonical-code limits for the
 * rare long codes.
 */
import { JpegError } from "./errors.js";

/** Bits of lookahead in the fast tables: most codes of photographs are shorter (the decoders use 10 as is). */
export const FAST_BITS = 10;

/**
 * {@link HuffmanTable.ac} entries: bits 0..4 the bits the entry reads, 8..11 the zero run, 12..15 the
 * magnitude bits still to read (0: the value is in the entry), 16..31 the coefficient's value (signed).
 * Flags mark the entries the common path cannot take: end of block (or band), and codes longer than the
 * lookahead. Sixteen zeros (symbol 0xF0) is a run of 15 and the value 0.
 */
export const AC_EOB = 0x20;
export const AC_LONG = 0x40;
/** An entry the common path (a value in the entry) cannot take: flags, or magnitude bits to read. */
export const AC_SPECIAL = AC_EOB | AC_LONG | 0xf000;

export interface HuffmanTable {
  /** By the next 10 bits: `(code length << 8) | symbol`, or 0 when the code is longer than 10 bits. */
  readonly fast: Int32Array;
  /** By the next 10 bits: the AC decoders' entry (see {@link AC_SPECIAL}). */
  readonly ac: Int32Array;
  /** By code length 1..16: the largest code of that length, −1 when none; [17]: a sentinel above all codes. */
  readonly maxCode: Int32Array;
  /** By code length: index into `symbols` of a code of that length, minus the code. */
  readonly valueOffset: Int32Array;
  readonly symbols: Uint8Array;
}

/** Huffman tables by class (0 DC, 1 AC) and slot (0..3). */
export type HuffmanSlots = [(HuffmanTable | undefined)[], (HuffmanTable | undefined)[]];

/**
 * Reads every table of one DHT segment into `slots` (a later table replaces a slot). Refuses a class above
 * 1 or slot above 3, more symbols than 256 or than the segment holds, code lengths that over-subscribe the
 * code space or use an all-ones code (as libjpeg does), and a DC symbol above 15.
 */
export function readDht(b: Uint8Array, start: number, end: number, slots: HuffmanSlots): void {
  let p = start;
  while (p < end) {
    const tc = b[p]! >> 4;
    const th = b[p]! & 0x0f;
    if (tc > 1 || th > 3) throw bad(`DHT class ${tc} slot ${th} (classes 0..1, slots 0..3)`, p);
    if (p + 17 > end) throw bad("DHT code-length counts run past the segment", p);
    const counts = b.subarray(p + 1, p + 17);
    let total = 0;
    for (let i = 0; i < 16; i++) total += counts[i]!;
    if (total > 256) throw bad(`DHT table with ${total} symbols (at most 256)`, p);
    if (p + 17 + total > end) throw bad(`DHT table's ${total} symbols run past the segment`, p);
    const symbols = b.slice(p + 17, p + 17 + total);
    if (tc === 0) {
      for (const symbol of symbols) if (symbol > 15) throw bad(`DC Huffman symbol ${symbol} (at most 15)`, p);
    }
    slots[tc]![th] = buildTable(counts, symbols, p);
    p += 17 + total;
  }
}

/** Builds the decoding tables of canonical codes with `counts[l - 1]` codes of length l. */
export function buildTable(counts: ArrayLike<number>, symbols: Uint8Array, at: number): HuffmanTable {
  const fast = new Int32Array(1 << FAST_BITS);
  const maxCode = new Int32Array(18).fill(-1);
  maxCode[17] = 0x7fffffff; // ends the decoders' search, where they find no code of 16 bits or fewer
  const valueOffset = new Int32Array(18);
  let code = 0;
  let k = 0;
  for (let length = 1; length <= 16; length++) {
    const count = counts[length - 1]!;
    valueOffset[length] = k - code;
    for (let i = 0; i < count; i++, k++, code++) {
      if (length <= FAST_BITS) {
        // Every 9-bit lookahead that starts with this code.
        const shift = FAST_BITS - length;
        const entry = (length << 8) | symbols[k]!;
        for (let fill = code << shift, last = fill + (1 << shift); fill < last; fill++) fast[fill] = entry;
      }
    }
    if (count > 0) maxCode[length] = code - 1;
    // code is one past the last code of this length: it must still fit, as no code may be all ones.
    if (code >= 1 << length) throw bad("Huffman code lengths over-subscribe the code space", at);
    code <<= 1;
  }
  return { fast, ac: buildAc(fast), maxCode, valueOffset, symbols };
}

function buildAc(fast: Int32Array): Int32Array {
  const ac = new Int32Array(1 << FAST_BITS);
  for (let peek = 0; peek < fast.length; peek++) {
    const entry = fast[peek]!;
    if (entry === 0) {
      ac[peek] = AC_LONG;
      continue;
    }
    const length = entry >> 8;
    const run = (entry >> 4) & 15;
    const size = entry & 15;
    if (size === 0) ac[peek] = run === 15 ? (15 << 8) | length : AC_EOB | (run << 8) | length;
    else if (length + size > FAST_BITS) ac[peek] = (size << 12) | (run << 8) | length;
    else {
      const bits = (peek >> (FAST_BITS - length - size)) & ((1 << size) - 1);
      ac[peek] = (extend(bits, size) << 16) | (run << 8) | (length + size);
    }
  }
  return ac;
}

/** T.81 F.2.2.1's EXTEND: `size` magnitude bits to the signed value, without a branch. */
export function extend(bits: number, size: number): number {
  return bits - (((bits - (1 << (size - 1))) >> 31) & ((1 << size) - 1));
}

function bad(message: string, at: number): JpegError {
  return new JpegError("JPEG_BAD_HUFFMAN_TABLE", message, at);
}

const hexBytes = (hex: string): Uint8Array =>
  Uint8Array.from(hex.match(/../g)!, (h) => Number.parseInt(h, 16));
const DC_SYMBOLS = "000102030405060708090a0b";

/**
 * T.81 Annex K.3's typical tables, which libjpeg uses for slots 0 and 1 when a file defines none
 * (Motion-JPEG frames carry no DHT): [class][slot].
 */
const STANDARD_TABLES: readonly [readonly number[], string][][] = [
  [
    [[0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0], DC_SYMBOLS],
    [[0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0], DC_SYMBOLS],
  ],
  [
    [
      [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 125],
      "01020300041105122131410613516107227114328191a1082342b1c11552d1f02433627282090a161718191a25262728292a" +
        "3435363738393a434445464748494a535455565758595a636465666768696a737475767778797a838485868788898a9293" +
        "9495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6" +
        "e7e8e9eaf1f2f3f4f5f6f7f8f9fa",
    ],
    [
      [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 119],
      "000102031104052131061241510761711322328108144291a1b1c109233352f0156272d10a162434e125f11718191a2627" +
        "28292a35363738393a434445464748494a535455565758595a636465666768696a737475767778797a8283848586878889" +
        "8a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae2e3e4" +
        "e5e6e7e8e9eaf2f3f4f5f6f7f8f9fa",
    ],
  ],
];

/** The Annex K table of a class and slot (0 or 1), as stored in a DHT: counts and symbols. */
export function standardTable(tableClass: 0 | 1, slot: 0 | 1): { counts: number[]; symbols: Uint8Array } {
  const [counts, symbols] = STANDARD_TABLES[tableClass]![slot]!;
  return { counts: [...counts], symbols: hexBytes(symbols) };
}
