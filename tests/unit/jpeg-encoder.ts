/**
 * Test support: a small sequential (baseline/extended) JPEG writer from given quantized coefficients, for
 * what no tool here writes: 12-bit samples, four components, any sampling factors, restart intervals,
 * codes up to 16 bits long. Huffman tables are built from the symbols' counts (T.81 Annex K.2, lengths
 * limited to 16 bits); `BitWriter` and `writeSymbol` let a test write a stream of its own.
 */

export interface EncodeComponent {
  readonly id: number;
  readonly h: number;
  readonly v: number;
  /** Quantized coefficients, blocks row by row (ceil(ceil(width·h/maxH)/8) wide), natural order inside. */
  readonly coefficients: Int16Array;
}

export interface EncodeOptions {
  readonly width: number;
  readonly height: number;
  readonly precision?: 8 | 12;
  readonly components: readonly EncodeComponent[];
  /** One quantization table per component (64 entries, natural order); default all 1. */
  readonly quant?: readonly (readonly number[])[];
  /** MCUs per restart interval; default 0 (none). */
  readonly restartInterval?: number;
  /** Component indexes of each scan; default one interleaved scan of all. */
  readonly scans?: readonly (readonly number[])[];
  /** Extra segments (whole, with marker) right after SOI, e.g. an APP14. */
  readonly extraSegments?: readonly Uint8Array[];
}

const ZIGZAG = [
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7,
  14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46,
  53, 60, 61, 54, 47, 55, 62, 63,
];

/** MSB-first bits with FF 00 stuffing; `flush` pads with 1 bits to a byte. */
export class BitWriter {
  readonly bytes: number[] = [];
  private buffer = 0;
  private count = 0;

  write(value: number, length: number): void {
    for (let i = length - 1; i >= 0; i--) {
      this.buffer = (this.buffer << 1) | ((value >>> i) & 1);
      if (++this.count === 8) this.emit();
    }
  }

  flush(): void {
    while (this.count !== 0) this.write(1, 1);
  }

  raw(...bytes: number[]): void {
    this.bytes.push(...bytes);
  }

  private emit(): void {
    this.bytes.push(this.buffer);
    if (this.buffer === 0xff) this.bytes.push(0);
    this.buffer = 0;
    this.count = 0;
  }
}

/** A canonical Huffman code: code lengths by count (16 entries) and symbols, plus the encoding map. */
export interface HuffmanCode {
  readonly counts: number[];
  readonly symbols: number[];
  readonly code: Map<number, { code: number; length: number }>;
}

/** Code lengths from symbol counts (T.81 K.2: Huffman, then lengths over 16 moved up), canonical codes. */
export function huffmanCode(frequencies: Map<number, number>): HuffmanCode {
  const symbols = [...frequencies.keys()].sort((a, b) => a - b);
  // One reserved symbol of count 1 keeps the all-ones code out of the table.
  const freq = [...symbols.map((s) => frequencies.get(s)!), 1];
  const size = freq.map(() => 0);
  const others = freq.map(() => -1);
  const live = freq.map((f) => f > 0);
  for (;;) {
    let v1 = -1;
    let v2 = -1;
    for (let i = 0; i < freq.length; i++) {
      if (!live[i]) continue;
      if (v1 < 0 || freq[i]! <= freq[v1]!) {
        v2 = v1;
        v1 = i;
      } else if (v2 < 0 || freq[i]! <= freq[v2]!) v2 = i;
    }
    if (v2 < 0) break;
    freq[v1]! += freq[v2]!;
    live[v2] = false;
    for (let i = v1; ; i = others[i]!) {
      size[i]!++;
      if (others[i] === -1) {
        others[i] = v2;
        break;
      }
    }
    for (let i = v2; i !== -1; i = others[i]!) size[i]!++;
  }
  const bits = new Array<number>(33).fill(0);
  for (const s of size) if (s > 0) bits[s]!++;
  for (let i = 32; i > 16; i--) {
    while (bits[i]! > 0) {
      let j = i - 2;
      while (bits[j] === 0) j--;
      bits[i]! -= 2;
      bits[i - 1]!++;
      bits[j + 1]! += 2;
      bits[j]!--;
    }
  }
  let longest = 16;
  while (bits[longest] === 0) longest--;
  bits[longest]!--; // the reserved symbol
  // Symbols by increasing code length (ties by symbol), as the sizes assigned them.
  const order = symbols.map((s, i) => ({ s, size: size[i]! })).sort((a, b) => a.size - b.size || a.s - b.s);
  const counts = bits.slice(1, 17);
  const sorted = order.map((o) => o.s);
  const code = new Map<number, { code: number; length: number }>();
  let next = 0;
  let k = 0;
  for (let length = 1; length <= 16; length++) {
    for (let i = 0; i < counts[length - 1]!; i++) code.set(sorted[k++]!, { code: next++, length });
    next <<= 1;
  }
  return { counts, symbols: sorted, code };
}

export function writeSymbol(writer: BitWriter, table: HuffmanCode, symbol: number): void {
  const entry = table.code.get(symbol);
  if (entry === undefined) throw new Error(`symbol ${symbol} not in the table`);
  writer.write(entry.code, entry.length);
}

function category(value: number): number {
  let magnitude = Math.abs(value);
  let size = 0;
  while (magnitude > 0) {
    size++;
    magnitude >>= 1;
  }
  return size;
}

/** The bits after a category code: the value, or for a negative one its ones' complement. */
function magnitudeBits(value: number, size: number): number {
  return value >= 0 ? value : (value - 1) & ((1 << size) - 1);
}

interface SymbolVisitor {
  symbol(component: number, tableClass: 0 | 1, symbol: number, bits: number, size: number): void;
  restart(): void;
}

interface BlockRef {
  readonly component: number;
  readonly offset: number; // −1: a padding block (all zero but the DC, which repeats the last)
}

/** Writes a sequential JPEG of the given coefficients. */
export function encodeJpeg(options: EncodeOptions): Uint8Array {
  const { width, height, components } = options;
  const precision = options.precision ?? 8;
  const maxH = Math.max(...components.map((c) => c.h));
  const maxV = Math.max(...components.map((c) => c.v));
  const grid = components.map((c) => ({
    wide: Math.ceil(Math.ceil((width * c.h) / maxH) / 8),
    high: Math.ceil(Math.ceil((height * c.v) / maxV) / 8),
  }));
  const scans = options.scans ?? [components.map((_, i) => i)];
  const mcuOrder = (scan: readonly number[]): BlockRef[][] => {
    const mcus: BlockRef[][] = [];
    if (scan.length === 1) {
      const { wide, high } = grid[scan[0]!]!;
      for (let b = 0; b < wide * high; b++) mcus.push([{ component: scan[0]!, offset: b * 64 }]);
      return mcus;
    }
    const mcusWide = Math.ceil(width / (8 * maxH));
    const mcusHigh = Math.ceil(height / (8 * maxV));
    for (let my = 0; my < mcusHigh; my++) {
      for (let mx = 0; mx < mcusWide; mx++) {
        const blocks: BlockRef[] = [];
        for (const ci of scan) {
          const { h, v } = components[ci]!;
          for (let y = 0; y < v; y++) {
            for (let x = 0; x < h; x++) {
              const bx = mx * h + x;
              const by = my * v + y;
              const inside = bx < grid[ci]!.wide && by < grid[ci]!.high;
              blocks.push({ component: ci, offset: inside ? (by * grid[ci]!.wide + bx) * 64 : -1 });
            }
          }
        }
        mcus.push(blocks);
      }
    }
    return mcus;
  };

  /** Every symbol of a scan, in stream order, and the restart points between intervals. */
  const walk = (scan: readonly number[], visit: SymbolVisitor): void => {
    const predictors = components.map(() => 0);
    mcuOrder(scan).forEach((blocks, mcu) => {
      if (options.restartInterval && mcu > 0 && mcu % options.restartInterval === 0) {
        predictors.fill(0);
        visit.restart();
      }
      for (const { component, offset } of blocks) {
        const data = components[component]!.coefficients;
        const dc = offset < 0 ? predictors[component]! : data[offset]!;
        const diff = dc - predictors[component]!;
        predictors[component] = dc;
        const size = category(diff);
        visit.symbol(component, 0, size, magnitudeBits(diff, size), size);
        let last = 0;
        for (let k = 63; k > 0 && offset >= 0; k--) {
          if (data[offset + ZIGZAG[k]!] !== 0) {
            last = k;
            break;
          }
        }
        let run = 0;
        for (let k = 1; k <= last; k++) {
          const value = data[offset + ZIGZAG[k]!]!;
          if (value === 0) {
            run++;
            continue;
          }
          for (; run > 15; run -= 16) visit.symbol(component, 1, 0xf0, 0, 0);
          const s = category(value);
          visit.symbol(component, 1, (run << 4) | s, magnitudeBits(value, s), s);
          run = 0;
        }
        if (last < 63) visit.symbol(component, 1, 0x00, 0, 0);
      }
    });
  };

  // Count the symbols per component and class for the tables, then write them.
  const counts = components.map(() => [new Map<number, number>(), new Map<number, number>()]);
  for (const scan of scans) {
    walk(scan, {
      symbol(component, tableClass, symbol) {
        const map = counts[component]![tableClass]!;
        map.set(symbol, (map.get(symbol) ?? 0) + 1);
      },
      restart() {},
    });
  }
  const tables = counts.map((byClass) => byClass.map((map) => huffmanCode(map)));

  const out: number[] = [0xff, 0xd8];
  for (const segment of options.extraSegments ?? []) out.push(...segment);
  const segment = (marker: number, payload: number[]) =>
    out.push(0xff, marker, (payload.length + 2) >> 8, (payload.length + 2) & 0xff, ...payload);
  components.forEach((_, i) => {
    const table = options.quant?.[i] ?? new Array<number>(64).fill(1);
    const wide = table.some((q) => q > 255);
    segment(0xdb, [
      (wide ? 0x10 : 0) | i,
      ...ZIGZAG.flatMap((n) => (wide ? [table[n]! >> 8, table[n]! & 0xff] : [table[n]!])),
    ]);
  });
  segment(precision === 8 ? 0xc0 : 0xc1, [
    precision,
    height >> 8,
    height & 0xff,
    width >> 8,
    width & 0xff,
    components.length,
    ...components.flatMap((c, i) => [c.id, (c.h << 4) | c.v, i]),
  ]);
  tables.forEach(([dc, ac], i) => {
    segment(0xc4, [i, ...dc!.counts, ...dc!.symbols, 0x10 | i, ...ac!.counts, ...ac!.symbols]);
  });
  if (options.restartInterval) segment(0xdd, [options.restartInterval >> 8, options.restartInterval & 0xff]);
  for (const scan of scans) {
    segment(0xda, [scan.length, ...scan.flatMap((ci) => [components[ci]!.id, (ci << 4) | ci]), 0, 63, 0]);
    const writer = new BitWriter();
    let restarts = 0;
    walk(scan, {
      symbol(component, tableClass, symbol, bits, size) {
        writeSymbol(writer, tables[component]![tableClass]!, symbol);
        writer.write(bits, size);
      },
      restart() {
        writer.flush();
        writer.raw(0xff, 0xd0 + (restarts++ & 7));
      },
    });
    writer.flush();
    out.push(...writer.bytes);
  }
  out.push(0xff, 0xd9);
  return Uint8Array.from(out);
}

/**
 * An 8×8 grey baseline file whose scan is written by `write`, with DC and AC tables holding `dcSymbols`
 * and `acSymbols`: for streams no encoder writes (runs past the block's end, say).
 */
export function greyJpegWithStream(
  dcSymbols: readonly number[],
  acSymbols: readonly number[],
  write: (writer: BitWriter, dc: HuffmanCode, ac: HuffmanCode) => void,
): Uint8Array {
  const dc = huffmanCode(new Map(dcSymbols.map((s) => [s, 1])));
  const ac = huffmanCode(new Map(acSymbols.map((s) => [s, 1])));
  const writer = new BitWriter();
  write(writer, dc, ac);
  writer.flush();
  const segment = (marker: number, payload: number[]) => [
    0xff,
    marker,
    (payload.length + 2) >> 8,
    (payload.length + 2) & 0xff,
    ...payload,
  ];
  return Uint8Array.from([
    0xff,
    0xd8,
    ...segment(0xdb, [0, ...new Array<number>(64).fill(1)]),
    ...segment(0xc0, [8, 0, 8, 0, 8, 1, 1, 0x11, 0]),
    ...segment(0xc4, [0x00, ...dc.counts, ...dc.symbols, 0x10, ...ac.counts, ...ac.symbols]),
    ...segment(0xda, [1, 1, 0x00, 0, 63, 0]),
    ...writer.bytes,
    0xff,
    0xd9,
  ]);
}
