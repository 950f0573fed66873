/**
 * Fuzz cases for the coefficient decoder, shared by tests/unit/jpeg-coefficients-fuzz.test.ts (a few
 * thousand) and bench/coefficients-fuzz.ts (a million): the seed files, and case `i` of a run as a pure
 * function of (run seed, i), so that any case can be rebuilt from its number.
 */
import { decodeCoefficients, JpegError } from "../../lib/jpeg/index.js";
import { encodeJpeg } from "./jpeg-encoder.js";
import { COEFFICIENT_SEEDS, fixture } from "./jpeg-tools.js";

/** The committed cjpeg seeds, and what cjpeg cannot write: 12-bit with restarts, four components. */
export function fuzzSeeds(): { name: string; bytes: Uint8Array }[] {
  const seeds: { name: string; bytes: Uint8Array }[] = COEFFICIENT_SEEDS.map((name) => ({
    name,
    bytes: new Uint8Array(fixture(name)),
  }));
  const blocks = (n: number, scale: number, seed: number): Int16Array => {
    const out = new Int16Array(n * 64);
    for (let i = 0; i < out.length; i++) {
      const k = i % 64;
      const hash = Math.imul(i + seed * 7919, 2654435761) >>> 0;
      if (k === 0 || hash % (4 + k) === 0) out[i] = ((hash >>> 8) % (2 * scale + 1)) - scale;
    }
    return out;
  };
  const twelve = encodeJpeg({
    width: 30,
    height: 21,
    precision: 12,
    restartInterval: 2,
    components: [
      { id: 1, h: 2, v: 2, coefficients: blocks(4 * 3, 3000, 1) },
      { id: 2, h: 1, v: 1, coefficients: blocks(2 * 2, 900, 2) },
      { id: 3, h: 1, v: 1, coefficients: blocks(2 * 2, 900, 3) },
    ],
  });
  const four = encodeJpeg({
    width: 24,
    height: 17,
    components: [1, 2, 3, 4].map((id) => ({ id, h: 1, v: 1, coefficients: blocks(3 * 3, 200, id) })),
    scans: [[0, 1], [2], [3]],
  });
  seeds.push(
    { name: "encoder-12bit-420-restart", bytes: twelve },
    { name: "encoder-4-components", bytes: four },
  );
  return seeds;
}

/** A small deterministic PRNG (mulberry32) for case `index` of run `seed`. */
function random(seed: number, index: number): () => number {
  let state = (Math.imul(seed, 0x9e3779b1) ^ Math.imul(index, 0x85ebca6b)) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const MUTATIONS = [
  "truncate",
  "bit flips",
  "byte insert/delete",
  "bogus DHT",
  "bogus SOS",
  "bogus SOF",
  "bogus DRI",
  "scan data spliced",
  "markers in scan data",
] as const;
export type Mutation = (typeof MUTATIONS)[number];

const INTERESTING = [
  0x00, 0xff, 0xd0, 0xd7, 0xd8, 0xd9, 0xda, 0xc4, 0xdd, 0x01, 0x0f, 0x10, 0x3f, 0x80, 0xfe,
];

/** Offsets of the FF of every segment with this marker (scan data skipped: FF there is FF 00 or RSTn). */
function segments(bytes: Uint8Array, marker: number): number[] {
  const found: number[] = [];
  for (let p = 2; p + 3 < bytes.length; p++) {
    if (bytes[p] === 0xff && bytes[p + 1] === marker) found.push(p);
  }
  return found;
}

/** Case `index` of run `seed`: a seed file changed by one kind of mutation. */
export function fuzzCase(
  seeds: readonly { name: string; bytes: Uint8Array }[],
  seed: number,
  index: number,
): { seed: string; mutation: Mutation; bytes: Uint8Array } {
  const rand = random(seed, index);
  const int = (n: number): number => Math.floor(rand() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const source = pick(seeds);
  const mutation = pick(MUTATIONS);
  let bytes = Array.from(source.bytes);
  const byte = (): number => (rand() < 0.5 ? pick(INTERESTING) : int(256));
  const set = (at: number, value: number): void => {
    if (at >= 0 && at < bytes.length) bytes[at] = value;
  };
  const inSegment = (marker: number, from: number, to: number): number | undefined => {
    const found = segments(source.bytes, marker);
    if (found.length === 0) return undefined;
    return pick(found) + from + int(to - from);
  };
  const scanStart = segments(source.bytes, 0xda)[0] ?? 2;
  switch (mutation) {
    case "truncate": {
      bytes = bytes.slice(0, int(bytes.length));
      if (rand() < 0.5) bytes.push(0xff, 0xd9);
      break;
    }
    case "bit flips": {
      const inHeaders = rand() < 0.5;
      for (let n = 1 + int(8); n > 0; n--) {
        const at = inHeaders ? int(scanStart + 14) : scanStart + int(bytes.length - scanStart);
        set(at, bytes[at]! ^ (1 << int(8)));
      }
      break;
    }
    case "byte insert/delete": {
      for (let n = 1 + int(4); n > 0; n--) {
        const at = int(bytes.length);
        if (rand() < 0.5) bytes.splice(at, 0, byte());
        else bytes.splice(at, 1 + int(3));
      }
      break;
    }
    case "bogus DHT": // Tc/Th, a code-length count, or a symbol
      for (let n = 1 + int(3); n > 0; n--) {
        const at = inSegment(0xc4, 4, 4 + 17 + 12);
        if (at !== undefined) set(at, rand() < 0.3 ? int(8) : byte());
      }
      break;
    case "bogus SOS": // component count, ids, table selectors, Ss, Se, Ah/Al
      for (let n = 1 + int(2); n > 0; n--) {
        const at = inSegment(0xda, 4, 14);
        if (at !== undefined) set(at, rand() < 0.5 ? int(16) : byte());
      }
      break;
    case "bogus SOF": // precision, height, width, component count, ids, sampling, table slots
      for (let n = 1 + int(2); n > 0; n--) {
        const at = (segments(source.bytes, 0xc0)[0] ?? segments(source.bytes, 0xc2)[0] ?? 2) + 4 + int(15);
        set(at, rand() < 0.5 ? pick([0x11, 0x22, 0x44, 0x14, 0x41, 0x00, 0x01, 0xff]) : byte());
      }
      break;
    case "bogus DRI": {
      const dri = segments(source.bytes, 0xdd)[0];
      const interval = pick([0, 1, 2, 3, 7, 255, 65535, int(65536)]);
      if (dri !== undefined) {
        set(dri + 4, interval >> 8);
        set(dri + 5, interval & 0xff);
      } else bytes.splice(scanStart, 0, 0xff, 0xdd, 0, 4, interval >> 8, interval & 0xff);
      break;
    }
    case "scan data spliced": {
      // Scan data cut, repeated or moved: scans that stop short or run past their blocks.
      const from = scanStart + int(bytes.length - scanStart);
      const length = 1 + int(64);
      const chunk = bytes.slice(from, from + length);
      const to = scanStart + int(bytes.length - scanStart);
      if (rand() < 0.5) bytes.splice(to, 0, ...chunk);
      else bytes.splice(from, length);
      break;
    }
    case "markers in scan data": {
      const at = scanStart + int(bytes.length - scanStart);
      bytes.splice(at, 0, 0xff, pick([0xd0, 0xd1, 0xd7, 0xd9, 0xda, 0xc4, 0xdd, 0xff, 0x00, 0xfe]));
      break;
    }
  }
  return { seed: source.name, mutation, bytes: Uint8Array.from(bytes) };
}

/** Runs one case: "decoded", or the JpegError's code; anything else is thrown on to the caller. */
export function outcomeOf(bytes: Uint8Array): string {
  try {
    decodeCoefficients(bytes, { maxPixels: 4_000_000 });
    return "decoded";
  } catch (error) {
    if (error instanceof JpegError) return error.code;
    throw error;
  }
}
