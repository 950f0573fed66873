/**
 * Blending tiles straight into the 8-bit output. A pixel that one tile alone covers has weight 1 there,
 * so its value is final as soon as that tile is decoded: it is rounded into the output at once. Only the
 * overlaps need float sums: the rows shared with the next tile row (one band, the width of the image,
 * carried over as the next row's top band) and, between those, the columns shared by neighbouring tiles
 * (one small band per tile border). Same order of additions as a whole-image accumulator, so the same
 * result to the bit, with a fraction of the float memory (fresh memory is slow to touch).
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

/** `length` zeros from the pool. */
function zeros(length: number): Float32Array {
  return new Float32Array(takeBuffer(length * 4), 0, length).fill(0);
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
  // the current tile's left and right border (the right one becomes the next tile's left).
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
    top: zeros(3 * rowPlane),
    bottom: zeros(3 * rowPlane),
    left: zeros(3 * colPlane),
    right: zeros(3 * colPlane),
  };
  return {
    add: (i, j, tile, stride, plane) => addTile(state, i, j, tile, stride, plane),
    release: () => {
      for (const band of [state.top, state.bottom, state.left, state.right]) giveBack(band.buffer);
    },
    output: new Uint8Array(out.buffer, out.byteOffset, out.length),
  };
}

/** Float band row → 8-bit output row (Uint8ClampedArray: rounded half to even, clamped). */
function flush(
  out: Uint8ClampedArray,
  band: Float32Array,
  plane: number,
  index: number,
  n: number,
  outIndex: number,
): void {
  for (let x = 0, k = outIndex * 3; x < n; x++, k += 3) {
    out[k] = band[index + x]! * 255;
    out[k + 1] = band[plane + index + x]! * 255;
    out[k + 2] = band[2 * plane + index + x]! * 255;
  }
}

function addTile(
  state: BlendState,
  i: number,
  j: number,
  tile: Float32Array,
  stride: number,
  plane: number,
): void {
  const { width, xs, ys, out, overlapCols, rowPlane, colPlane } = state;
  const sx = xs[i]!;
  const sy = ys[j]!;
  const wx = state.weightsX[i]!;
  const wy = state.weightsY[j]!;
  const w = sx.end - sx.start;
  const h = sy.end - sy.start;
  const topEnd = j > 0 ? ys[j - 1]!.end - sy.start : 0; // rows [0, topEnd) are shared with the row above
  const bottomStart = j + 1 < ys.length ? ys[j + 1]!.start - sy.start : h; // [bottomStart, h): below
  const leftEnd = i > 0 ? xs[i - 1]!.end - sx.start : 0;
  const rightStart = i + 1 < xs.length ? xs[i + 1]!.start - sx.start : w;
  const { top, bottom, left, right } = state;
  for (let y = 0; y < h; y++) {
    const wyy = wy[y]!;
    if (y < topEnd || y >= bottomStart) {
      if (wyy === 0) continue;
      const band = y < topEnd ? top : bottom;
      const bandRow = y < topEnd ? y : y - bottomStart;
      for (let c = 0; c < 3; c++) {
        accumulate(
          band,
          c * rowPlane + bandRow * width + sx.start,
          tile,
          c * plane + y * stride,
          wx,
          0,
          w,
          wyy,
        );
      }
      continue;
    }
    // A middle row: weight 1 in y; the borders go to the column bands, the rest is final.
    for (let c = 0; c < 3; c++) {
      const src = c * plane + y * stride;
      if (leftEnd > 0) accumulate(left, c * colPlane + y * overlapCols, tile, src, wx, 0, leftEnd, 1);
      if (rightStart < w)
        accumulate(right, c * colPlane + y * overlapCols - rightStart, tile, src, wx, rightStart, w, 1);
    }
    const row = (sy.start + y) * width + sx.start;
    storeRow(out, (row + leftEnd) * 3, tile, y * stride + leftEnd, plane, rightStart - leftEnd);
  }
  // The left band is complete now (both of its tiles are in): its middle rows go out.
  if (leftEnd > 0) {
    for (let y = topEnd; y < bottomStart; y++) {
      flush(out, left, colPlane, y * overlapCols, leftEnd, (sy.start + y) * width + sx.start);
    }
    left.fill(0);
  }
  state.left = right;
  state.right = left;
  if (i + 1 < xs.length) return;
  // The last tile of the row: the band shared with the row above is complete.
  for (let y = 0; y < topEnd; y++) flush(out, top, rowPlane, y * width, width, (sy.start + y) * width);
  top.fill(0);
  state.top = bottom;
  state.bottom = top;
  state.left.fill(0);
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

/** band[base + x] += wy · wx[x] · map(v), x in [from, to), map = clamp to [−1, 1] then to [0, 1]. */
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
    const weight = wx[x]!;
    if (weight === 0) continue;
    const v = tile[src + x]!;
    band[base + x]! += wy * weight * (Math.min(1, Math.max(-1, v)) * 0.5 + 0.5);
  }
}
