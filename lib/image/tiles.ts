/**
 * Tiling for images of any size: overlapping tiles on a grid aligned to the model's multiple, and blending
 * weights that fall smoothly to zero across each overlap and sum to exactly 1 everywhere, so the output is
 * accumulated in one buffer with no weight map and no seams. Pure functions over typed arrays.
 */

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

/**
 * Cuts `rect` out of interleaved 8-bit RGB as planar float RGB (NCHW, batch 1), each value mapped
 * `v · scale + offset` (default: [0, 1]; `2/255, −1` gives rgb_pm1 directly), edge-padded on the right and
 * bottom to `paddedWidth` × `paddedHeight` (replicating the last column and row, as CODiff pads).
 */
export function extractPlanar(
  rgb: Uint8Array,
  width: number,
  rect: Tile,
  paddedWidth: number,
  paddedHeight: number,
  scale = 1 / 255,
  offset = 0,
): Float32Array {
  const w = rect.x.end - rect.x.start;
  const h = rect.y.end - rect.y.start;
  const plane = paddedWidth * paddedHeight;
  const out = new Float32Array(plane * 3);
  const r = out.subarray(0, plane);
  const g = out.subarray(plane, 2 * plane);
  const b = out.subarray(2 * plane);
  for (let y = 0; y < h; y++) {
    let s = ((rect.y.start + y) * width + rect.x.start) * 3;
    const o = y * paddedWidth;
    for (let x = o, end = o + w; x < end; x++, s += 3) {
      r[x] = rgb[s]! * scale + offset;
      g[x] = rgb[s + 1]! * scale + offset;
      b[x] = rgb[s + 2]! * scale + offset;
    }
    if (paddedWidth > w) {
      for (const p of [r, g, b]) p.fill(p[o + w - 1]!, o + w, o + paddedWidth);
    }
  }
  for (const p of [r, g, b]) {
    const last = p.subarray((h - 1) * paddedWidth, h * paddedWidth);
    for (let y = h; y < paddedHeight; y++) p.set(last, y * paddedWidth);
  }
  return out;
}

/**
 * Adds `weight(x) · weight(y) · tile` into the planar float accumulator (3 × height × width). `tile` is
 * planar with row length `tileStride` (its padded width); only the `rect` part is used. With `fromPm1`,
 * tile values are decoder output in [−1, 1]: clamped and mapped to [0, 1] on the way in.
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
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < h; y++) {
      const wy = weightsY[y]!;
      const src = c * tilePlane + y * tileStride;
      const dst = c * plane + (rect.y.start + y) * width + rect.x.start;
      if (fromPm1) {
        for (let x = 0; x < w; x++) {
          const v = tile[src + x]!;
          const clamped = Math.min(1, Math.max(-1, v));
          accumulator[dst + x]! += wy * weightsX[x]! * (clamped * 0.5 + 0.5);
        }
      } else {
        for (let x = 0; x < w; x++) accumulator[dst + x]! += wy * weightsX[x]! * tile[src + x]!;
      }
    }
  }
}

/** Planar float RGB in [0, 1] → interleaved 8-bit RGB (rounded, clamped by Uint8ClampedArray). */
export function planarToInterleaved(planar: Float32Array, width: number, height: number): Uint8Array {
  const plane = width * height;
  const out = new Uint8ClampedArray(plane * 3);
  for (let i = 0, k = 0; i < plane; i++, k += 3) {
    out[k] = planar[i]! * 255;
    out[k + 1] = planar[plane + i]! * 255;
    out[k + 2] = planar[2 * plane + i]! * 255;
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}
