/**
 * Tiling for images of any size: overlapping tiles on a grid aligned to the model's multiple, and blending
 * weights that fall smoothly to zero across each overlap and sum to exactly 1 everywhere, so the output is
 * accumulated in one buffer with no weight map and no seams. Pure functions over typed arrays.
 */
import { giveBack, takeBuffer } from "./buffer-pool.js";

export interface Span {
  readonly start: number;
  readonly end: number;
}

export interface Tile {
  readonly x: Span;
  readonly y: Span;
}

/**
 * Splits `length` into spans of `tile` that overlap by `overlap`, each starting on a multiple of the
 * stride (`tile - overlap`, itself a multiple of the model's alignment, so every tile sees the same pixel
 * phase as the whole image). The last span runs to the end: longer than the overlap, at most a tile. No
 * span is ever longer than `tile`, which is what bounds memory.
 */
export function planAxis(length: number, tile: number, overlap: number): Span[] {
  if (!(length > 0 && tile > 0 && overlap >= 0 && overlap * 2 < tile)) {
    throw new RangeError(`bad tiling: length ${length}, tile ${tile}, overlap ${overlap}`);
  }
  const stride = tile - overlap;
  const spans: Span[] = [];
  let start = 0;
  while (length - start > tile) {
    spans.push({ start, end: start + tile });
    start += stride;
  }
  spans.push({ start, end: length });
  return spans;
}

export function planTiles(width: number, height: number, tile: number, overlap: number): Tile[] {
  const xs = planAxis(width, tile, overlap);
  const ys = planAxis(height, tile, overlap);
  return ys.flatMap((y) => xs.map((x) => ({ x, y })));
}

/** 0 → 0, 1 → 1, with s(t) + s(1 − t) = 1, so neighbouring ramps add up to exactly one. */
function smoothstep(t: number): number {
  const c = Math.min(1, Math.max(0, t));
  return c * c * (3 - 2 * c);
}

/**
 * Weights along one span: 1 inside, falling to 0 across the overlap with each neighbour. The fall is
 * confined to the middle half of the overlap: the outer quarter, nearest the tile's edge where the model
 * saw the least context, gets no weight at all.
 */
export function axisWeights(span: Span, previous: Span | undefined, next: Span | undefined): Float32Array {
  const size = span.end - span.start;
  const weights = new Float32Array(size).fill(1);
  if (previous !== undefined && previous.end > span.start) {
    const width = previous.end - span.start;
    for (let i = 0; i < width; i++) weights[i]! *= smoothstep(((i + 0.5) / width - 0.25) * 2);
  }
  if (next !== undefined && span.end > next.start) {
    const width = span.end - next.start;
    for (let i = 0; i < width; i++) weights[size - 1 - i]! *= smoothstep(((i + 0.5) / width - 0.25) * 2);
  }
  return weights;
}

/** Rounds `n` up to a multiple of `multiple`. */
export function padTo(n: number, multiple: number): number {
  return Math.ceil(n / multiple) * multiple;
}

/** `v · scale + offset` for every byte value, as float32: one load per channel instead of a multiply-add. */
function byteTable(scale: number, offset: number): Float32Array {
  const table = new Float32Array(256);
  for (let v = 0; v < 256; v++) table[v] = v * scale + offset;
  return table;
}

const tables = new Map<string, Float32Array>();

const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/**
 * Cuts `rect` out of interleaved 8-bit RGB as planar float RGB (NCHW, batch 1), each value mapped
 * `v · scale + offset` (default: [0, 1]; `2/255, −1` gives rgb_pm1 directly), edge-padded on the right and
 * bottom to `paddedWidth` × `paddedHeight` (replicating the last column and row, as CODiff pads).
 * The result is a view at the start of `scratch.data` when that is long enough, else a new array that
 * becomes `scratch.data`: tiles reuse one buffer, since touching fresh memory costs more than the copy.
 */
export function extractPlanar(
  rgb: Uint8Array,
  width: number,
  rect: Tile,
  paddedWidth: number,
  paddedHeight: number,
  scale = 1 / 255,
  offset = 0,
  scratch?: Scratch,
): Float32Array {
  const w = rect.x.end - rect.x.start;
  const h = rect.y.end - rect.y.start;
  const plane = paddedWidth * paddedHeight;
  const out = takeScratch(scratch, plane * 3);
  const key = `${scale},${offset}`;
  const lut = tables.get(key) ?? byteTable(scale, offset);
  tables.set(key, lut);
  const g0 = plane;
  const b0 = 2 * plane;
  // Four pixels are three aligned 32-bit words: one load each instead of one per byte (~1/3 faster).
  const words = LITTLE_ENDIAN ? new Uint32Array(rgb.buffer, 0, rgb.buffer.byteLength >> 2) : undefined;
  for (let y = 0; y < h; y++) {
    let s = ((rect.y.start + y) * width + rect.x.start) * 3;
    const o = y * paddedWidth;
    const end = o + w;
    let x = o;
    if (words !== undefined) {
      // Up to three pixels one by one, until the row's bytes reach a word boundary.
      for (; x < end && ((rgb.byteOffset + s) & 3) !== 0; x++, s += 3) {
        out[x] = lut[rgb[s]!]!;
        out[g0 + x] = lut[rgb[s + 1]!]!;
        out[b0 + x] = lut[rgb[s + 2]!]!;
      }
      for (let k = (rgb.byteOffset + s) >> 2; x + 4 <= end; x += 4, s += 12, k += 3) {
        const a = words[k]!;
        const b = words[k + 1]!;
        const c = words[k + 2]!;
        out[x] = lut[a & 255]!;
        out[g0 + x] = lut[(a >>> 8) & 255]!;
        out[b0 + x] = lut[(a >>> 16) & 255]!;
        out[x + 1] = lut[a >>> 24]!;
        out[g0 + x + 1] = lut[b & 255]!;
        out[b0 + x + 1] = lut[(b >>> 8) & 255]!;
        out[x + 2] = lut[(b >>> 16) & 255]!;
        out[g0 + x + 2] = lut[b >>> 24]!;
        out[b0 + x + 2] = lut[c & 255]!;
        out[x + 3] = lut[(c >>> 8) & 255]!;
        out[g0 + x + 3] = lut[(c >>> 16) & 255]!;
        out[b0 + x + 3] = lut[c >>> 24]!;
      }
    }
    for (; x < end; x++, s += 3) {
      out[x] = lut[rgb[s]!]!;
      out[g0 + x] = lut[rgb[s + 1]!]!;
      out[b0 + x] = lut[rgb[s + 2]!]!;
    }
    if (paddedWidth > w) {
      for (let c = 0; c < 3; c++) {
        const row = c * plane + o;
        out.fill(out[row + w - 1]!, row + w, row + paddedWidth);
      }
    }
  }
  for (let c = 0; c < 3; c++) {
    const last = out.subarray(c * plane + (h - 1) * paddedWidth, c * plane + h * paddedWidth);
    for (let y = h; y < paddedHeight; y++) out.set(last, c * plane + y * paddedWidth);
  }
  return out;
}

/** A float buffer reused from tile to tile (lent to the model worker while a model runs on it). */
export interface Scratch {
  data?: Float32Array;
}

/**
 * `length` floats: a view of `scratch.data` when it is long enough, else a buffer from the pool (the
 * shorter one goes back) kept there. Without a scratch, a new array.
 */
export function takeScratch(scratch: Scratch | undefined, length: number): Float32Array {
  if (scratch === undefined) return new Float32Array(length);
  const data = scratch.data;
  if (data !== undefined && data.length >= length)
    return data.length === length ? data : data.subarray(0, length);
  if (data !== undefined) giveBack(data.buffer);
  const buffer = takeBuffer(length * 4);
  scratch.data = new Float32Array(buffer, 0, buffer.byteLength >> 2);
  return scratch.data.subarray(0, length);
}

/** The index range [first, end) where `weights` is exactly 1: there a tile is the only contributor. */
function unitRange(weights: Float32Array): { first: number; end: number } {
  let first = 0;
  while (first < weights.length && weights[first] !== 1) first++;
  let end = weights.length;
  while (end > first && weights[end - 1] !== 1) end--;
  return { first, end };
}

/**
 * Adds `weight(x) · weight(y) · tile` into the planar float accumulator (3 × height × width). `tile` is
 * planar with row length `tileStride` (its padded width); only the `rect` part is used. With `fromPm1`,
 * tile values are decoder output in [−1, 1]: clamped and mapped to [0, 1] on the way in. Where both
 * weights are 1 (no neighbour overlaps: most of a tile) the value is stored, not multiplied and added;
 * the result is the same to the bit, since the accumulator there is still 0. Zero weights are skipped.
 */
export function blendInto(
  accumulator: Float32Array,
  width: number,
  height: number,
  tile: Float32Array,
  tileStride: number,
  tilePlane: number,
  rect: Tile,
  weightsX: Float32Array,
  weightsY: Float32Array,
  fromPm1 = false,
): void {
  const plane = width * height;
  const w = rect.x.end - rect.x.start;
  const h = rect.y.end - rect.y.start;
  const unit = unitRange(weightsX);
  const scale = fromPm1 ? 0.5 : 1;
  const shift = fromPm1 ? 0.5 : 0;
  const lo = fromPm1 ? -1 : Number.NEGATIVE_INFINITY;
  const hi = fromPm1 ? 1 : Number.POSITIVE_INFINITY;
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < h; y++) {
      const wy = weightsY[y]!;
      if (wy === 0) continue;
      const src = c * tilePlane + y * tileStride;
      const dst = c * plane + (rect.y.start + y) * width + rect.x.start;
      if (wy === 1 && unit.end > unit.first) {
        blendRun(accumulator, dst, tile, src, weightsX, 0, unit.first, 1, scale, shift, lo, hi);
        for (let x = unit.first; x < unit.end; x++) {
          const v = tile[src + x]!;
          accumulator[dst + x] = Math.min(hi, Math.max(lo, v)) * scale + shift;
        }
        blendRun(accumulator, dst, tile, src, weightsX, unit.end, w, 1, scale, shift, lo, hi);
      } else {
        blendRun(accumulator, dst, tile, src, weightsX, 0, w, wy, scale, shift, lo, hi);
      }
    }
  }
}

/** Accumulates `wy · weightsX[x] · map(tile)` for x in [from, to) of one row. */
function blendRun(
  accumulator: Float32Array,
  dst: number,
  tile: Float32Array,
  src: number,
  weightsX: Float32Array,
  from: number,
  to: number,
  wy: number,
  scale: number,
  shift: number,
  lo: number,
  hi: number,
): void {
  for (let x = from; x < to; x++) {
    const wx = weightsX[x]!;
    if (wx === 0) continue;
    const v = tile[src + x]!;
    accumulator[dst + x]! += wy * wx * (Math.min(hi, Math.max(lo, v)) * scale + shift);
  }
}

/** Planar float RGB in [0, 1] → interleaved 8-bit RGB (rounded, clamped by Uint8ClampedArray). */
export function planarToInterleaved(planar: Float32Array, width: number, height: number): Uint8Array {
  const out = new Uint8ClampedArray(width * height * 3);
  planarRowsToInterleaved(planar, width, height, 0, height, out, 0);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/**
 * Rows [from, to) of planar float RGB in [0, 1] (planes of `width × planeHeight`) → interleaved 8-bit RGB
 * at row `outRow` of `out` (rounded half to even and clamped, as Uint8ClampedArray stores do).
 */
export function planarRowsToInterleaved(
  planar: Float32Array,
  width: number,
  planeHeight: number,
  from: number,
  to: number,
  out: Uint8ClampedArray,
  outRow: number,
): void {
  const plane = width * planeHeight;
  const g = planar.subarray(plane, 2 * plane);
  const b = planar.subarray(2 * plane, 3 * plane);
  for (let i = from * width, end = to * width, k = outRow * width * 3; i < end; i++, k += 3) {
    out[k] = planar[i]! * 255;
    out[k + 1] = g[i]! * 255;
    out[k + 2] = b[i]! * 255;
  }
}
