/**
 * Blending tiles straight into the 8-bit output. A pixel that one tile alone covers has weight 1 there,
 * so its value is final as soon as that tile is decoded: it is rounded into the output at once. Only the
 * overlaps need float sums: the rows shared with the next tile row (one band, the width of the image,
 * carried over as the next row's top band) and, between those, the columns shared by neighbouring tiles
 * (one small band per tile border). Tiles come in raster order, so for every overlap pixel it is known
 * which tile is the first to cover it (it stores its share, so no band is ever cleared) and which the
 * last (it adds its share and rounds the sum into the output, so no band is read twice). Same order of
 * additions as a whole-image accumulator, so the same result to the bit, with a fraction of the float
 * memory (fresh memory is slow to touch) and one pass over it.
 */
import { giveBack, takeBuffer } from "./buffer-pool.js";
import type { Span } from "./tiles.js";

export interface BandedBlender {
  /** Adds decoder output (planar rgb_pm1, row length `stride`, planes of `plane`) for tile (i, j). */
  add(i: number, j: number, tile: Float32Array, stride: number, plane: number): void;
  /** Interleaved 8-bit RGB of the whole image, complete once every tile was added. */
  readonly output: Uint8Array;
  /** Gives the band buffers back to the pool (lib/image/buffer-pool.ts); `output` stays the caller's. */
  release(): void;
}

/** A blend in progress; the functions below are module-level so that V8 optimises them once per process. */
interface BlendState {
  readonly width: number;
  readonly xs: readonly Span[];
  readonly ys: readonly Span[];
  readonly weightsX: readonly Float32Array[];
  readonly weightsY: readonly Float32Array[];
  readonly out: Uint8ClampedArray;
  readonly overlapCols: number;
  readonly rowPlane: number;
  readonly colPlane: number;
  // top: rows shared with the tile row above; bottom: with the one below. left/right: the column band at
  // the current tile's left and right border (the right one becomes the next tile's left). Pooled buffers
  // as their last user left them: every value is stored before it is read.
  top: Float32Array;
  bottom: Float32Array;
  left: Float32Array;
  right: Float32Array;
}

export function createBandedBlender(
  width: number,
  height: number,
  xs: readonly Span[],
  ys: readonly Span[],
  weightsX: readonly Float32Array[],
  weightsY: readonly Float32Array[],
): BandedBlender {
  // From the pool, as it was left: every byte of it is written below (each pixel is final in one place).
  const out = new Uint8ClampedArray(takeBuffer(width * height * 3), 0, width * height * 3);
  const overlapRows = Math.max(0, ...ys.slice(1).map((s, j) => ys[j]!.end - s.start));
  const overlapCols = Math.max(0, ...xs.slice(1).map((s, i) => xs[i]!.end - s.start));
  const stripRows = Math.max(...ys.map((s) => s.end - s.start));
  const rowPlane = overlapRows * width;
  const colPlane = stripRows * overlapCols;
  const band = (length: number) => new Float32Array(takeBuffer(length * 4), 0, length);
  const state: BlendState = {
    width,
    xs,
    ys,
    weightsX,
    weightsY,
    out,
    overlapCols,
    rowPlane,
    colPlane,
    top: band(3 * rowPlane),
    bottom: band(3 * rowPlane),
    left: band(3 * colPlane),
    right: band(3 * colPlane),
  };
  return {
    add: (i, j, tile, stride, plane) => addTile(state, i, j, tile, stride, plane),
    release: () => {
      for (const b of [state.top, state.bottom, state.left, state.right]) giveBack(b.buffer);
    },
    output: new Uint8Array(out.buffer, out.byteOffset, out.length),
  };
}

/**
 * Tile (i, j). In tile coordinates, columns [0, leftEnd) are shared with the tile to the left (already
 * added), [rightStart, w) with the one to the right (to come); rows [0, topEnd) with the row above (done),
 * [bottomStart, h) with the row below (to come). This tile is the last to cover the shared pixels above
 * and to the left of its right overlap, and the first to cover those below and in its right overlap.
 */
function addTile(
  state: BlendState,
  i: number,
  j: number,
  tile: Float32Array,
  stride: number,
  plane: number,
): void {
  const { width, xs, ys, out, overlapCols, rowPlane, colPlane, top, bottom, left, right } = state;
  const sx = xs[i]!;
  const sy = ys[j]!;
  const wx = state.weightsX[i]!;
  const wy = state.weightsY[j]!;
  const w = sx.end - sx.start;
  const h = sy.end - sy.start;
  const topEnd = j > 0 ? ys[j - 1]!.end - sy.start : 0;
  const bottomStart = j + 1 < ys.length ? ys[j + 1]!.start - sy.start : h;
  const leftEnd = i > 0 ? xs[i - 1]!.end - sx.start : 0;
  const rightStart = i + 1 < xs.length ? xs[i + 1]!.start - sx.start : w;
  for (let y = 0; y < h; y++) {
    const wyy = wy[y]!;
    const outRow = (sy.start + y) * width + sx.start;
    if (y < topEnd) {
      // Shared with the row above: last for [0, rightStart), and adding its share to the right overlap.
      const bandAt = y * width + sx.start;
      finish(out, outRow * 3, top, bandAt, rowPlane, tile, y * stride, plane, wx, 0, rightStart, wyy);
      for (let c = 0; c < 3; c++) {
        accumulate(top, c * rowPlane + bandAt, tile, c * plane + y * stride, wx, rightStart, w, wyy);
      }
    } else if (y >= bottomStart) {
      // Shared with the row below: first for [leftEnd, w), adding to the left overlap.
      for (let c = 0; c < 3; c++) {
        const bandAt = c * rowPlane + (y - bottomStart) * width + sx.start;
        const src = c * plane + y * stride;
        accumulate(bottom, bandAt, tile, src, wx, 0, leftEnd, wyy);
        store(bottom, bandAt, tile, src, wx, leftEnd, w, wyy);
      }
    } else {
      // A middle row: weight 1 in y. Last for the left overlap, alone in the middle, first for the right.
      const bandAt = y * overlapCols;
      finish(out, outRow * 3, left, bandAt, colPlane, tile, y * stride, plane, wx, 0, leftEnd, 1);
      for (let c = 0; c < 3; c++) {
        store(right, c * colPlane + bandAt - rightStart, tile, c * plane + y * stride, wx, rightStart, w, 1);
      }
      storeRow(out, (outRow + leftEnd) * 3, tile, y * stride + leftEnd, plane, rightStart - leftEnd);
    }
  }
  state.left = right;
  state.right = left;
  if (i + 1 < xs.length) return;
  // The last tile of the row: the band shared with the row below becomes the next row's top.
  state.top = bottom;
  state.bottom = top;
}

/** `n` pixels of one tile row where it alone covers the image: final at once, into the 8-bit output. */
function storeRow(
  out: Uint8ClampedArray,
  k: number,
  tile: Float32Array,
  r: number,
  plane: number,
  n: number,
): void {
  const g = r + plane;
  const b = g + plane;
  for (let x = 0; x < n; x++, k += 3) {
    // fround: the value a float accumulator would have held (0 + 1 · 1 · v). No clamp to [−1, 1]
    // first: beyond it the byte store clamps to 0 or 255 all the same (and NaN stores 0 either way).
    out[k] = Math.fround(tile[r + x]! * 0.5 + 0.5) * 255;
    out[k + 1] = Math.fround(tile[g + x]! * 0.5 + 0.5) * 255;
    out[k + 2] = Math.fround(tile[b + x]! * 0.5 + 0.5) * 255;
  }
}

/** The share of one decoder value at weight `weight`: clamped to [−1, 1], mapped to [0, 1]. */
function share(weight: number, v: number): number {
  return weight * (Math.min(1, Math.max(-1, v)) * 0.5 + 0.5);
}

/** band[base + x] = wy · wx[x] · map(v) for x in [from, to): the first tile over these pixels. */
function store(
  band: Float32Array,
  base: number,
  tile: Float32Array,
  src: number,
  wx: Float32Array,
  from: number,
  to: number,
  wy: number,
): void {
  for (let x = from; x < to; x++) {
    const weight = wy * wx[x]!;
    band[base + x] = weight === 0 ? 0 : share(weight, tile[src + x]!);
  }
}

/** band[base + x] += wy · wx[x] · map(v) for x in [from, to): a tile neither first nor last here. */
function accumulate(
  band: Float32Array,
  base: number,
  tile: Float32Array,
  src: number,
  wx: Float32Array,
  from: number,
  to: number,
  wy: number,
): void {
  for (let x = from; x < to; x++) {
    const weight = wy * wx[x]!;
    if (weight !== 0) band[base + x]! += share(weight, tile[src + x]!);
  }
}

/**
 * The last tile over these pixels: (band + its share) rounded into the interleaved output from pixel byte
 * `k` on, for x in [from, to); band planes of `bandPlane` from index `base`, tile planes of `plane` from `src`.
 */
function finish(
  out: Uint8ClampedArray,
  k: number,
  band: Float32Array,
  base: number,
  bandPlane: number,
  tile: Float32Array,
  src: number,
  plane: number,
  wx: Float32Array,
  from: number,
  to: number,
  wy: number,
): void {
  const g = base + bandPlane;
  const b = g + bandPlane;
  const sg = src + plane;
  const sb = sg + plane;
  for (let x = from, o = k + 3 * from; x < to; x++, o += 3) {
    const weight = wy * wx[x]!;
    if (weight === 0) {
      out[o] = band[base + x]! * 255;
      out[o + 1] = band[g + x]! * 255;
      out[o + 2] = band[b + x]! * 255;
    } else {
      out[o] = Math.fround(band[base + x]! + share(weight, tile[src + x]!)) * 255;
      out[o + 1] = Math.fround(band[g + x]! + share(weight, tile[sg + x]!)) * 255;
      out[o + 2] = Math.fround(band[b + x]! + share(weight, tile[sb + x]!)) * 255;
    }
  }
}
