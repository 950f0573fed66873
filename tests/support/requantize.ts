/**
 * A reference JPEG re-quantizer for tests, written apart from lib/ so that it checks the projection rather
 * than repeating it: 8-bit RGB in the file's stored orientation → YCbCr (JFIF, float) → each component
 * box-averaged to its sampling after the edges are repeated to whole blocks → the JPEG DCT by its
 * definition, in double precision → round(F / q).
 */

export interface Sampling {
  readonly h: number;
  readonly v: number;
  /** 64 steps, natural order. */
  readonly quant: ArrayLike<number>;
}

export interface Requantized {
  readonly blocksWide: number;
  readonly blocksHigh: number;
  readonly coefficients: Int16Array;
}

const COS = Array.from({ length: 64 }, (_, i) => Math.cos(((2 * (i >> 3) + 1) * (i & 7) * Math.PI) / 16));
const C = (k: number) => (k === 0 ? Math.SQRT1_2 : 1);

/** The orthonormal 8×8 DCT of `block` (row-major samples), natural order. */
export function referenceDct(block: ArrayLike<number>): Float64Array {
  const rows = new Float64Array(64);
  for (let y = 0; y < 8; y++)
    for (let v = 0; v < 8; v++) {
      let s = 0;
      for (let x = 0; x < 8; x++) s += block[y * 8 + x]! * COS[x * 8 + v]!;
      rows[y * 8 + v] = 0.5 * C(v) * s;
    }
  const out = new Float64Array(64);
  for (let u = 0; u < 8; u++)
    for (let v = 0; v < 8; v++) {
      let s = 0;
      for (let y = 0; y < 8; y++) s += rows[y * 8 + v]! * COS[y * 8 + u]!;
      out[u * 8 + v] = 0.5 * C(u) * s;
    }
  return out;
}

/** Interleaved RGB (stored orientation) re-quantized with these components (one: grey, three: YCbCr). */
export function requantize(
  rgb: Uint8Array,
  width: number,
  height: number,
  components: readonly Sampling[],
): Requantized[] {
  const maxH = Math.max(...components.map((c) => c.h));
  const maxV = Math.max(...components.map((c) => c.v));
  const channel = (role: number, p: number): number => {
    const r = rgb[p]!;
    const g = rgb[p + 1]!;
    const b = rgb[p + 2]!;
    if (role === 0) return 0.299 * r + 0.587 * g + 0.114 * b;
    if (role === 1) return -0.168735892 * r - 0.331264108 * g + 0.5 * b + 128;
    return 0.5 * r - 0.418687589 * g - 0.081312411 * b + 128;
  };
  return components.map((c, role) => {
    const sx = maxH / c.h;
    const sy = maxV / c.v;
    const blocksWide = Math.ceil(Math.ceil((width * c.h) / maxH) / 8);
    const blocksHigh = Math.ceil(Math.ceil((height * c.v) / maxV) / 8);
    const sample = (i: number, j: number): number => {
      let sum = 0;
      for (let b = 0; b < sy; b++)
        for (let a = 0; a < sx; a++) {
          const x = Math.min(i * sx + a, width - 1);
          const y = Math.min(j * sy + b, height - 1);
          sum += channel(role, (y * width + x) * 3);
        }
      return sum / (sx * sy);
    };
    const coefficients = new Int16Array(blocksWide * blocksHigh * 64);
    const block = new Float64Array(64);
    for (let by = 0; by < blocksHigh; by++)
      for (let bx = 0; bx < blocksWide; bx++) {
        for (let k = 0; k < 64; k++) block[k] = sample(bx * 8 + (k & 7), by * 8 + (k >> 3)) - 128;
        const f = referenceDct(block);
        const k0 = (by * blocksWide + bx) * 64;
        for (let k = 0; k < 64; k++) coefficients[k0 + k] = Math.round(f[k]! / c.quant[k]!);
      }
    return { blocksWide, blocksHigh, coefficients };
  });
}

/** Share of `b`'s coefficients equal to `a`'s, component by component and in all. */
export function agreement(
  a: readonly { coefficients: Int16Array }[],
  b: readonly { coefficients: Int16Array }[],
): { all: number; perComponent: number[] } {
  let same = 0;
  let total = 0;
  const perComponent = a.map((ca, i) => {
    const cb = b[i]!.coefficients;
    if (cb.length !== ca.coefficients.length) throw new RangeError(`component ${i}: sizes differ`);
    let s = 0;
    for (let k = 0; k < cb.length; k++) if (cb[k] === ca.coefficients[k]) s++;
    same += s;
    total += cb.length;
    return s / cb.length;
  });
  return { all: same / total, perComponent };
}
