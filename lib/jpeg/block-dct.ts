/**
 * JPEG's 8×8 DCT in floating point, the plain separable way (two passes of 8×8 products), for analysis
 * rather than coding: F(u,v) = ¼ C(u) C(v) Σ f(x,y) cos((2x+1)uπ/16) cos((2y+1)vπ/16), C(0) = 1/√2, so
 * the DC term is 8 × the block's mean and quantization steps apply to it as they do in a file.
 */

/** BASIS[8u + x] = C(u)/2 · cos((2x+1)uπ/16): row u is frequency u over the 8 samples. */
const BASIS = Float64Array.from({ length: 64 }, (_, i) => {
  const u = i >> 3;
  const x = i & 7;
  return ((u === 0 ? Math.SQRT1_2 : 1) / 2) * Math.cos(((2 * x + 1) * u * Math.PI) / 16);
});

/** Even and odd halves of the basis for samples 0..3: EVEN[4n + j] = BASIS[2j][n], ODD[4n + j] = BASIS[2j+1][n]. */
const EVEN = Float64Array.from({ length: 16 }, (_, i) => BASIS[2 * (i & 3) * 8 + (i >> 2)]!);
const ODD = Float64Array.from({ length: 16 }, (_, i) => BASIS[(2 * (i & 3) + 1) * 8 + (i >> 2)]!);

/**
 * One 8-point inverse pass from `src[o + s·u]` (u = 0..7) into `dst[p + t·x]` (x = 0..7): samples n and 7 − n
 * share the even frequencies' sum and take the odd ones' with opposite signs (32 products, not 64).
 */
function inverse8(src: Float64Array, o: number, s: number, dst: Float64Array, p: number, t: number): void {
  const x0 = src[o]!;
  const x1 = src[o + s]!;
  const x2 = src[o + 2 * s]!;
  const x3 = src[o + 3 * s]!;
  const x4 = src[o + 4 * s]!;
  const x5 = src[o + 5 * s]!;
  const x6 = src[o + 6 * s]!;
  const x7 = src[o + 7 * s]!;
  for (let n = 0; n < 4; n++) {
    const e = x0 * EVEN[4 * n]! + x2 * EVEN[4 * n + 1]! + x4 * EVEN[4 * n + 2]! + x6 * EVEN[4 * n + 3]!;
    const d = x1 * ODD[4 * n]! + x3 * ODD[4 * n + 1]! + x5 * ODD[4 * n + 2]! + x7 * ODD[4 * n + 3]!;
    dst[p + t * n] = e + d;
    dst[p + t * (7 - n)] = e - d;
  }
}

/**
 * Inverse DCT of one block of dequantized coefficients (natural order, modified: used as scratch) into
 * `out` at `offset` with row stride `stride`, level-shifted by 128 and clamped to [0, 255] as an 8-bit
 * decoder's output is (not rounded). `temp`: 64 floats of scratch.
 */
export function inverseDctBlock(
  coefficients: Float64Array,
  out: Float32Array,
  offset: number,
  stride: number,
  temp: Float64Array,
): void {
  // Columns (frequencies down each column u), skipping the all-zero ones, common at high qualities.
  for (let u = 0; u < 8; u++) {
    let zero = true;
    for (let v = 1; v < 8 && zero; v++) zero = coefficients[v * 8 + u] === 0;
    if (zero) {
      const dc = coefficients[u]! * BASIS[0]!;
      for (let y = 0; y < 8; y++) temp[y * 8 + u] = dc;
    } else inverse8(coefficients, u, 8, temp, u, 8);
  }
  // Rows.
  for (let y = 0; y < 8; y++) {
    inverse8(temp, y * 8, 1, coefficients, y * 8, 1);
    const row = offset + y * stride;
    for (let x = 0; x < 8; x++) {
      const value = coefficients[y * 8 + x]! + 128;
      out[row + x] = Math.min(255, Math.max(0, value));
    }
  }
}

/**
 * The lowest `n` × `n` frequencies of the forward DCT of the 8×8 block of `plane` at `offset` (row stride
 * `stride`), level-shifted by −128: into `out[v * n + u]` (v vertical, u horizontal). `temp`: 8·n floats.
 */
export function forwardDctLow(
  plane: Float32Array,
  offset: number,
  stride: number,
  n: number,
  out: Float64Array,
  temp: Float64Array,
): void {
  // Rows: temp[y][u] = Σ_x (f(y,x) − 128) BASIS[u][x].
  for (let y = 0; y < 8; y++) {
    const row = offset + y * stride;
    for (let u = 0; u < n; u++) {
      let sum = 0;
      for (let x = 0; x < 8; x++) sum += (plane[row + x]! - 128) * BASIS[u * 8 + x]!;
      temp[y * n + u] = sum;
    }
  }
  // Columns: F(v,u) = Σ_y temp[y][u] BASIS[v][y].
  for (let v = 0; v < n; v++) {
    for (let u = 0; u < n; u++) {
      let sum = 0;
      for (let y = 0; y < 8; y++) sum += temp[y * n + u]! * BASIS[v * 8 + y]!;
      out[v * n + u] = sum;
    }
  }
}
