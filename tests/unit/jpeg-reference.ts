/**
 * Test support: pixels from decoded coefficients the way libjpeg makes them with `-dct int`, to compare
 * with djpeg byte for byte. The inverse DCT is the islow algorithm of libjpeg's jidctint.c (Loeffler,
 * Ligtenberg and Moschytz's 8-point IDCT, 13-bit fixed-point constants, 2 extra bits between the column
 * and row passes, outputs range-limited with wraparound past ±512); the colour conversion is libjpeg's
 * fixed-point YCbCr → RGB (16 fractional bits, tables rounded to nearest). Written from those published
 * descriptions; speed is of no concern here, so arithmetic is in doubles, exact for these magnitudes.
 */
import type { JpegCoefficients } from "../../lib/jpeg/index.js";

const CONST_BITS = 13;
const PASS1_BITS = 2;
const fix = (x: number): number => Math.round(x * (1 << CONST_BITS));
const F_0_298631336 = fix(0.298631336);
const F_0_390180644 = fix(0.390180644);
const F_0_541196100 = fix(0.5411961);
const F_0_765366865 = fix(0.765366865);
const F_0_899976223 = fix(0.899976223);
const F_1_175875602 = fix(1.175875602);
const F_1_501321110 = fix(1.50132111);
const F_1_847759065 = fix(1.847759065);
const F_1_961570560 = fix(1.96157056);
const F_2_053119869 = fix(2.053119869);
const F_2_562915447 = fix(2.562915447);
const F_3_072711026 = fix(3.072711026);

/** Arithmetic right shift of an integer-valued double, rounding: (x + 2^(n-1)) >> n. */
const descale = (x: number, n: number): number => Math.floor((x + 2 ** (n - 1)) / 2 ** n);

/** One 8-point pass (a column, then a row): the 8 outputs before the pass's descale. */
function butterfly(v: ArrayLike<number>): number[] {
  // Even part: in[0], in[2], in[4], in[6].
  let z2 = v[2]!;
  let z3 = v[6]!;
  const z1e = (z2 + z3) * F_0_541196100;
  const t2 = z1e - z3 * F_1_847759065;
  const t3 = z1e + z2 * F_0_765366865;
  z2 = v[0]!;
  z3 = v[4]!;
  const t0 = (z2 + z3) * 2 ** CONST_BITS;
  const t1 = (z2 - z3) * 2 ** CONST_BITS;
  const t10 = t0 + t3;
  const t13 = t0 - t3;
  const t11 = t1 + t2;
  const t12 = t1 - t2;
  // Odd part: in[7], in[5], in[3], in[1].
  let o0 = v[7]!;
  let o1 = v[5]!;
  let o2 = v[3]!;
  let o3 = v[1]!;
  let z1 = o0 + o3;
  let zz2 = o1 + o2;
  let zz3 = o0 + o2;
  let z4 = o1 + o3;
  const z5 = (zz3 + z4) * F_1_175875602;
  o0 *= F_0_298631336;
  o1 *= F_2_053119869;
  o2 *= F_3_072711026;
  o3 *= F_1_501321110;
  z1 *= -F_0_899976223;
  zz2 *= -F_2_562915447;
  zz3 = zz3 * -F_1_961570560 + z5;
  z4 = z4 * -F_0_390180644 + z5;
  o0 += z1 + zz3;
  o1 += zz2 + z4;
  o2 += zz2 + zz3;
  o3 += z1 + z4;
  return [t10 + o3, t11 + o2, t12 + o1, t13 + o0, t13 - o0, t12 - o1, t11 - o2, t10 - o3];
}

/** libjpeg's post-IDCT range limit: x (centred) masked to 10 bits, clamped to 0..255 after +128. */
function rangeLimit(x: number): number {
  const masked = x & 1023;
  if (masked < 128) return masked + 128;
  if (masked < 512) return 255;
  if (masked < 896) return 0;
  return masked - 896;
}

/** Dequantizes and inverse-transforms one block into `out` (8 rows of `stride` from `outAt`). */
export function idctIslow(
  coefficients: Int16Array,
  at: number,
  quant: Uint16Array,
  out: Uint8Array,
  outAt: number,
  stride: number,
): void {
  const workspace = new Array<number>(64);
  for (let col = 0; col < 8; col++) {
    const input = Array.from(
      { length: 8 },
      (_, row) => coefficients[at + row * 8 + col]! * quant[row * 8 + col]!,
    );
    // Pass 1 keeps PASS1_BITS of extra precision (the DC-only shortcut of libjpeg gives the same values).
    const result = butterfly(input).map((x) => descale(x, CONST_BITS - PASS1_BITS));
    for (let row = 0; row < 8; row++) workspace[row * 8 + col] = result[row]!;
  }
  for (let row = 0; row < 8; row++) {
    const result = butterfly(workspace.slice(row * 8, row * 8 + 8));
    for (let col = 0; col < 8; col++) {
      out[outAt + row * stride + col] = rangeLimit(descale(result[col]!, CONST_BITS + PASS1_BITS + 3));
    }
  }
}

/** One component's samples: its blocks inverse-transformed, cropped to `width` × `height`. */
export function componentSamples(
  decoded: JpegCoefficients,
  index: number,
  width: number,
  height: number,
): Uint8Array {
  const c = decoded.components[index]!;
  const stride = c.blocksWide * 8;
  const plane = new Uint8Array(stride * c.blocksHigh * 8);
  for (let by = 0; by < c.blocksHigh; by++) {
    for (let bx = 0; bx < c.blocksWide; bx++) {
      idctIslow(
        c.coefficients,
        (by * c.blocksWide + bx) * 64,
        c.quant,
        plane,
        by * 8 * stride + bx * 8,
        stride,
      );
    }
  }
  const cropped = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) cropped.set(plane.subarray(y * stride, y * stride + width), y * width);
  return cropped;
}

const SCALEBITS = 16;
const ONE_HALF = 2 ** (SCALEBITS - 1);
const fix16 = (x: number): number => Math.floor(x * 2 ** SCALEBITS + 0.5);
const shift16 = (x: number): number => Math.floor(x / 2 ** SCALEBITS);
const clamp255 = (x: number): number => Math.max(0, Math.min(255, x));

/** libjpeg's YCbCr → RGB of one pixel (JFIF full-range BT.601, fixed point). */
export function yccToRgb(y: number, cb: number, cr: number): [number, number, number] {
  const b = cb - 128;
  const r = cr - 128;
  const red = y + shift16(fix16(1.402) * r + ONE_HALF);
  const green = y + shift16(-fix16(0.34414) * b + ONE_HALF + -fix16(0.71414) * r);
  const blue = y + shift16(fix16(1.772) * b + ONE_HALF);
  return [clamp255(red), clamp255(green), clamp255(blue)];
}

/** Interleaved pixels as djpeg writes them: grey, or RGB from YCbCr without subsampling (4:4:4). */
export function referencePixels(decoded: JpegCoefficients): Uint8Array {
  const { width, height, components } = decoded;
  if (components.length === 1) return componentSamples(decoded, 0, width, height);
  if (
    components.length !== 3 ||
    components.some((c) => c.h !== components[0]!.h || c.v !== components[0]!.v)
  ) {
    throw new Error("the reference decoder takes grey and 4:4:4 YCbCr only");
  }
  const [y, cb, cr] = [0, 1, 2].map((i) => componentSamples(decoded, i, width, height)) as [
    Uint8Array,
    Uint8Array,
    Uint8Array,
  ];
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) rgb.set(yccToRgb(y[i]!, cb[i]!, cr[i]!), i * 3);
  return rgb;
}

/** The pixels of a binary PGM (P5) or PPM (P6) with maxval 255. */
export function readPnm(bytes: Uint8Array): {
  width: number;
  height: number;
  channels: 1 | 3;
  pixels: Uint8Array;
} {
  const header = new TextDecoder("latin1").decode(bytes.subarray(0, 64));
  const match = /^P([56])\s+(\d+)\s+(\d+)\s+255\s/.exec(header);
  if (match === null) throw new Error("not a binary PGM/PPM with maxval 255");
  const channels = match[1] === "5" ? 1 : 3;
  const width = Number(match[2]);
  const height = Number(match[3]);
  const start = match[0].length;
  return { width, height, channels, pixels: bytes.subarray(start, start + width * height * channels) };
}
