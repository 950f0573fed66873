/**
 * A sample of a large image for the quality search: whole tiles on an even grid across the image, laid
 * side by side in a small mosaic that is encoded in place of the image. Tiles are 64 px squares at
 * multiples of 64 px, so every JPEG block and MCU (8 and 16 px), WebP macroblock (16) and AV1 superblock
 * (64) of a tile is one of the image's own: the encoder sees the same blocks it will see in the image,
 * and the error and bytes per pixel of the mosaic predict the image's (bench/encode-sample.ts measures
 * how well). Pure functions over interleaved 8-bit RGB.
 */

export const SAMPLE_TILE = 64;

export interface SamplePlan {
  readonly width: number;
  readonly height: number;
  /** Mosaic size; the image's own when the whole image is the sample. */
  readonly mosaicWidth: number;
  readonly mosaicHeight: number;
  /** Top-left corners of the tiles in the image, row by row as they sit in the mosaic; empty: whole image. */
  readonly tiles: readonly { readonly x: number; readonly y: number }[];
  /** Columns of tiles in the mosaic. */
  readonly columns: number;
}

/**
 * About `target` pixels of a `width` × `height` image: the whole image when it is not much larger (or too
 * small for two rows and columns of tiles), else a grid of tiles spread evenly over it, in proportion to
 * its sides.
 */
export function planSample(width: number, height: number, target: number): SamplePlan {
  const whole: SamplePlan = {
    width,
    height,
    mosaicWidth: width,
    mosaicHeight: height,
    tiles: [],
    columns: 0,
  };
  const across = Math.floor(width / SAMPLE_TILE);
  const down = Math.floor(height / SAMPLE_TILE);
  if (width * height <= target * 1.25 || across < 2 || down < 2) return whole;
  const wanted = Math.max(4, Math.round(target / (SAMPLE_TILE * SAMPLE_TILE)));
  // A grid of columns × rows tiles with the image's aspect, within the tiles there are.
  const columns = Math.min(across, Math.max(1, Math.round(Math.sqrt((wanted * across) / down))));
  const rows = Math.min(down, Math.max(1, Math.round(wanted / columns)));
  const tiles: { x: number; y: number }[] = [];
  for (let r = 0; r < rows; r++) {
    const ty = Math.floor(((r + 0.5) * down) / rows);
    for (let c = 0; c < columns; c++) {
      const tx = Math.floor(((c + 0.5) * across) / columns);
      tiles.push({ x: tx * SAMPLE_TILE, y: ty * SAMPLE_TILE });
    }
  }
  return {
    width,
    height,
    mosaicWidth: columns * SAMPLE_TILE,
    mosaicHeight: rows * SAMPLE_TILE,
    tiles,
    columns,
  };
}

/** The sample's pixels of `rgb` (the image itself when the plan is the whole image). */
export function takeSample(plan: SamplePlan, rgb: Uint8Array): Uint8Array {
  if (rgb.length !== plan.width * plan.height * 3)
    throw new RangeError(`rgb has ${rgb.length} bytes for ${plan.width}×${plan.height}`);
  if (plan.tiles.length === 0) return rgb;
  const out = new Uint8Array(plan.mosaicWidth * plan.mosaicHeight * 3);
  const rowBytes = SAMPLE_TILE * 3;
  for (const [k, { x, y }] of plan.tiles.entries()) {
    const mx = (k % plan.columns) * SAMPLE_TILE;
    const my = Math.floor(k / plan.columns) * SAMPLE_TILE;
    for (let row = 0; row < SAMPLE_TILE; row++) {
      const from = ((y + row) * plan.width + x) * 3;
      out.set(rgb.subarray(from, from + rowBytes), ((my + row) * plan.mosaicWidth + mx) * 3);
    }
  }
  return out;
}

/**
 * Pixels this close to a tile's edge in the mosaic are left out of a sample's error: a decoder's chroma
 * upsampling (and AV1's and WebP's filters) there reads the neighbouring tile, which is not the image's
 * neighbour (with them, a 4:2:0 JPEG's error on the sample was ~10 % above the image's).
 */
export const TILE_MARGIN = 2;

/**
 * Mean squared difference of two samples of `plan` with `channels` values a pixel (every value counts):
 * over the whole image, or over the tiles' interiors (TILE_MARGIN).
 */
export function sampleError(plan: SamplePlan, a: Uint8Array, b: Uint8Array, channels: number): number {
  if (a.length !== b.length) throw new RangeError(`${a.length} values against ${b.length}`);
  if (plan.tiles.length === 0) return meanSquaredError(a, b, 0, a.length);
  let sum = 0;
  let count = 0;
  const inner = SAMPLE_TILE - 2 * TILE_MARGIN;
  for (let k = 0; k < plan.tiles.length; k++) {
    const mx = (k % plan.columns) * SAMPLE_TILE + TILE_MARGIN;
    const my = Math.floor(k / plan.columns) * SAMPLE_TILE + TILE_MARGIN;
    for (let row = 0; row < inner; row++) {
      const from = ((my + row) * plan.mosaicWidth + mx) * channels;
      sum += squaredError(a, b, from, from + inner * channels);
      count += inner * channels;
    }
  }
  return sum / count;
}

/** Mean squared difference of two equal-length 8-bit buffers over [from, to) (all of them by default). */
export function meanSquaredError(a: Uint8Array, b: Uint8Array, from = 0, to = a.length): number {
  if (a.length !== b.length) throw new RangeError(`${a.length} values against ${b.length}`);
  return to > from ? squaredError(a, b, from, to) / (to - from) : 0;
}

function squaredError(a: Uint8Array, b: Uint8Array, from: number, to: number): number {
  let sum = 0;
  for (let i = from; i < to; i++) {
    const d = a[i]! - b[i]!;
    sum += d * d;
  }
  return sum;
}
