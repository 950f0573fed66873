/**
 * The band moves of source-planes.ts written out for the samplings nearly every JPEG has (grey, 4:4:4,
 * 4:2:2, 4:2:0; grey in source-planes-grey.ts): one pass over the pixels, each sample's pixels named rather than looped over. Each loop is
 * a module function that gets its arrays as arguments, not a closure over them: V8 compiles a function
 * made once with the module's constants (these conversions) built in, and reads a closure's arrays and
 * functions from its context, checked, at every pixel (three times the time). The projection's budget is a
 * few percent of a restore (bench/restore.ts).
 */
import type { BandIo, ComponentPlane, StoredLayout } from "./source-planes.js";

// JFIF's conversion (libjpeg jccolor.c / jdcolor.c), level-shifted: Y − 128, Cb − 128, Cr − 128. Written as
// literals in small functions, which V8 inlines with the constants folded. The loops here call them by
// names of this module, not the exported ones: V8 reads an exported binding from its cell, and checks
// it, at each call.
const luma = (r: number, g: number, b: number): number => 0.299 * r + 0.587 * g + 0.114 * b - 128;
const cb = (r: number, g: number, b: number): number => -0.168735892 * r - 0.331264108 * g + 0.5 * b;
const cr = (r: number, g: number, b: number): number => 0.5 * r - 0.418687589 * g - 0.081312411 * b;
/** The change of red, green and blue for a change of Cr, or (G) of Cb and Cr, or (B) of Cb. */
const red = (dCr: number): number => 1.402 * dCr;
const green = (dCb: number, dCr: number): number => -0.344136286 * dCb - 0.714136286 * dCr;
const blue = (dCb: number): number => 1.772 * dCb;
export const lumaOf = luma;
export const cbOf = cb;
export const crOf = cr;
export const redOf = red;
export const greenOf = green;
export const blueOf = blue;

/** Byte offset of stored row `y` (clamped to the image) and of stored column `x` (clamped), in the upright buffer. */
const rowAt = (layout: StoredLayout, y: number): number =>
  (layout.base + Math.min(y, layout.height - 1) * layout.dy) * 3;
export const storedRowAt = rowAt;

/**
 * Levels cut off values by clamping them to 0 or 255 in {@link round}, in all (callers subtract). In a
 * typed array: a module variable holding a fraction is a number object, made anew at each change.
 */
const CLAMPED = new Float64Array(1);

export const clampedSoFar = (): number => CLAMPED[0]!;

/**
 * Writes `target` rounded to 8 bits at `out[p]` and returns what rounding took off, which the caller adds
 * to the next pixel of the row: rounding errors spread along the row rather than add up. Each sample's
 * change is smooth, often a constant over a block, and rounding that alone would move every pixel the
 * same way: up to half a level on all 64, 4 units of the DC. A value clamped to 0 or 255 carries nothing;
 * the levels cut off are added up.
 */
function round(out: Uint8Array, p: number, target: number): number {
  if (target >= -0.5 && target < 255.5) {
    const rounded = (target + 0.5) | 0; // target + 0.5 is in [0, 256): truncation rounds half up
    out[p] = rounded;
    return target - rounded;
  }
  out[p] = target < 0 ? 0 : 255;
  CLAMPED[0] += target < 0 ? -target : target - 255;
  return 0;
}
export const roundInto = round;

/** 4:4:4: every plane at full resolution. */
export function fullColourIo(
  rgb: Uint8Array,
  layout: StoredLayout,
  planes: readonly ComponentPlane[],
): BandIo {
  const [Y, U, V] = planes.map((plane) => plane.data) as [Float32Array, Float32Array, Float32Array];
  const { width, rows } = planes[0]!;
  return {
    planes,
    gather: (y0, x0, x1) => gatherFull(rgb, layout, Y, U, V, width, rows, y0, x0, x1),
    apply: (y0, x0, x1) => applyFull(rgb, layout, Y, U, V, width, rows, y0, x0, x1),
  };
}

function gatherFull(
  rgb: Uint8Array,
  layout: StoredLayout,
  Y: Float32Array,
  U: Float32Array,
  V: Float32Array,
  w: number,
  rows: number,
  y0: number,
  x0: number,
  x1: number,
): void {
  const step = layout.dx * 3;
  const lastX = layout.width - 1;
  const end = Math.min(x1, w);
  for (let j = 0; j < rows; j++) {
    const row = rowAt(layout, y0 + j);
    for (let x = x0, l = j * w + x0; x < end; x++, l++) {
      const p = row + Math.min(x, lastX) * step;
      const r = rgb[p]!;
      const g = rgb[p + 1]!;
      const b = rgb[p + 2]!;
      Y[l] = luma(r, g, b);
      U[l] = cb(r, g, b);
      V[l] = cr(r, g, b);
    }
  }
}

function applyFull(
  rgb: Uint8Array,
  layout: StoredLayout,
  Y: Float32Array,
  U: Float32Array,
  V: Float32Array,
  w: number,
  rows: number,
  y0: number,
  x0: number,
  x1: number,
): number {
  const step = layout.dx * 3;
  const end = Math.min(x1, layout.width);
  const before = CLAMPED[0]!;
  for (let j = 0; j < rows && y0 + j < layout.height; j++) {
    const row = rowAt(layout, y0 + j);
    let r = 0;
    let g = 0;
    let b = 0;
    for (let x = x0, l = j * w + x0; x < end; x++, l++) {
      const dY = Y[l]!;
      const dCb = U[l]!;
      const dCr = V[l]!;
      const p = row + x * step;
      r = round(rgb, p, rgb[p]! + dY + red(dCr) + r);
      g = round(rgb, p + 1, rgb[p + 1]! + dY + green(dCb, dCr) + g);
      b = round(rgb, p + 2, rgb[p + 2]! + dY + blue(dCb) + b);
    }
  }
  return CLAMPED[0]! - before;
}

/** 4:2:2 and 4:2:0: chroma at half the width, and at full or half the height (`planes[1].sy` 1 or 2). */
export function halfColourIo(
  rgb: Uint8Array,
  layout: StoredLayout,
  planes: readonly ComponentPlane[],
): BandIo {
  const [Y, U, V] = planes.map((plane) => plane.data) as [Float32Array, Float32Array, Float32Array];
  const lw = planes[0]!.width;
  const { width: cw, rows, sy } = planes[1]!;
  return {
    planes,
    gather: (y0, x0, x1) => gatherHalf(rgb, layout, Y, U, V, lw, cw, rows, sy, y0, x0, x1),
    apply: (y0, x0, x1) => applyHalf(rgb, layout, Y, U, V, lw, cw, rows, sy, y0, x0, x1),
  };
}

function gatherHalf(
  rgb: Uint8Array,
  layout: StoredLayout,
  Y: Float32Array,
  U: Float32Array,
  V: Float32Array,
  lw: number,
  cw: number,
  rows: number,
  sy: number,
  y0: number,
  x0: number,
  x1: number,
): void {
  const step = layout.dx * 3;
  const lastX = layout.width - 1;
  const two = sy === 2;
  const area = two ? 0.25 : 0.5;
  const end = Math.min(x1 >> 1, cw);
  for (let j = 0; j < rows; j++) {
    const top = rowAt(layout, y0 + j * sy);
    const bottom = two ? rowAt(layout, y0 + j * 2 + 1) : top;
    const l0 = j * sy * lw;
    const l1 = l0 + lw;
    for (let i = x0 >> 1, x = x0; i < end; i++, x += 2) {
      const inLuma = x < lw; // the luma plane may end a block before the chroma's last pixel pair
      const a = Math.min(x, lastX) * step;
      const b = Math.min(x + 1, lastX) * step;
      let p = top + a;
      let q = top + b;
      let r0 = rgb[p]!;
      let g0 = rgb[p + 1]!;
      let b0 = rgb[p + 2]!;
      let r1 = rgb[q]!;
      let g1 = rgb[q + 1]!;
      let b1 = rgb[q + 2]!;
      if (inLuma) {
        Y[l0 + x] = luma(r0, g0, b0);
        Y[l0 + x + 1] = luma(r1, g1, b1);
      }
      let r = r0 + r1;
      let g = g0 + g1;
      let bl = b0 + b1;
      if (two) {
        p = bottom + a;
        q = bottom + b;
        r0 = rgb[p]!;
        g0 = rgb[p + 1]!;
        b0 = rgb[p + 2]!;
        r1 = rgb[q]!;
        g1 = rgb[q + 1]!;
        b1 = rgb[q + 2]!;
        if (inLuma) {
          Y[l1 + x] = luma(r0, g0, b0);
          Y[l1 + x + 1] = luma(r1, g1, b1);
        }
        r += r0 + r1;
        g += g0 + g1;
        bl += b0 + b1;
      }
      U[j * cw + i] = cb(r, g, bl) * area;
      V[j * cw + i] = cr(r, g, bl) * area;
    }
  }
}

function applyHalf(
  rgb: Uint8Array,
  layout: StoredLayout,
  Y: Float32Array,
  U: Float32Array,
  V: Float32Array,
  lw: number,
  cw: number,
  rows: number,
  sy: number,
  y0: number,
  x0: number,
  x1: number,
): number {
  const step = layout.dx * 3;
  const end = Math.min(x1, layout.width);
  const before = CLAMPED[0]!;
  // Row by row (the top then the bottom of each chroma row), each with its own carries.
  for (let y = y0; y < Math.min(y0 + rows * sy, layout.height); y++) {
    const row = rowAt(layout, y);
    const l = (y - y0) * lw;
    const c = ((y - y0) >> (sy - 1)) * cw;
    let r = 0;
    let g = 0;
    let b = 0;
    for (let i = x0 >> 1, x = x0; x < end; i++, x++) {
      const dCb = U[c + i]!;
      const dCr = V[c + i]!;
      const dR = red(dCr);
      const dG = green(dCb, dCr);
      const dB = blue(dCb);
      let p = row + x * step;
      let dY = Y[l + x]!;
      r = round(rgb, p, rgb[p]! + dY + dR + r);
      g = round(rgb, p + 1, rgb[p + 1]! + dY + dG + g);
      b = round(rgb, p + 2, rgb[p + 2]! + dY + dB + b);
      if (++x === end) break;
      p += step;
      dY = Y[l + x]!;
      r = round(rgb, p, rgb[p]! + dY + dR + r);
      g = round(rgb, p + 1, rgb[p + 1]! + dY + dG + g);
      b = round(rgb, p + 2, rgb[p + 2]! + dY + dB + b);
    }
  }
  return CLAMPED[0]! - before;
}
