/**
 * The top/left padding of a re-saved image (docs/CONTRACTS.md, "Padding"): the whole image shifted by
 * (dy, dx) ∈ 0..7, the new rows and columns replicating its first row and column, so that the block grid
 * of its earlier compression starts at the origin, where the model's grid is; and the crop back.
 * Interleaved 8-bit RGB; buffers from the pool (lib/image/buffer-pool.ts).
 */
import { takeBuffer } from "./buffer-pool.js";

export interface RgbImage {
  readonly rgb: Uint8Array;
  readonly width: number;
  readonly height: number;
}

/** `image` with `dy` rows on top and `dx` columns on the left copied from its first row and column. */
export function padTopLeft(image: RgbImage, dy: number, dx: number): RgbImage {
  const { rgb, width, height } = image;
  const paddedWidth = width + dx;
  const paddedHeight = height + dy;
  const out = new Uint8Array(takeBuffer(paddedWidth * paddedHeight * 3), 0, paddedWidth * paddedHeight * 3);
  for (let y = 0; y < height; y++) {
    const row = (y + dy) * paddedWidth * 3;
    const first = y * width * 3;
    for (let x = 0; x < dx; x++) {
      out[row + x * 3] = rgb[first]!;
      out[row + x * 3 + 1] = rgb[first + 1]!;
      out[row + x * 3 + 2] = rgb[first + 2]!;
    }
    out.set(rgb.subarray(first, first + width * 3), row + dx * 3);
  }
  const firstRow = out.subarray(dy * paddedWidth * 3, (dy + 1) * paddedWidth * 3);
  for (let y = 0; y < dy; y++) out.set(firstRow, y * paddedWidth * 3);
  return { rgb: out, width: paddedWidth, height: paddedHeight };
}

/** The part of `image` from row `dy` and column `dx` on (undoes {@link padTopLeft}). */
export function cropTopLeft(image: RgbImage, dy: number, dx: number): RgbImage {
  const width = image.width - dx;
  const height = image.height - dy;
  const out = new Uint8Array(takeBuffer(width * height * 3), 0, width * height * 3);
  for (let y = 0; y < height; y++) {
    const from = ((y + dy) * image.width + dx) * 3;
    out.set(image.rgb.subarray(from, from + width * 3), y * width * 3);
  }
  return { rgb: out, width, height };
}

/**
 * A grid's `offset` [dy, dx] found in the stored image (`width` × `height` as stored) as it is in the
 * upright image EXIF `orientation` makes of it: the same turns as autoOrient's (source-planes.ts
 * storedLayout). A flip of an axis of length L moves block starts s to L − s; orientations 5..8 swap axes.
 */
export function uprightOffset(
  offset: readonly [number, number],
  width: number,
  height: number,
  orientation: number,
): [dy: number, dx: number] {
  const rows = (8 - offset[0]) % 8; // where blocks start, mod 8
  const columns = (8 - offset[1]) % 8;
  const flip = (start: number, length: number) => (((length - start) % 8) + 8) % 8;
  const turns: Record<number, [number, number]> = {
    1: [rows, columns],
    2: [rows, flip(columns, width)],
    3: [flip(rows, height), flip(columns, width)],
    4: [flip(rows, height), columns],
    5: [columns, rows], // upright rows from stored columns, upright columns from stored rows
    6: [columns, flip(rows, height)],
    7: [flip(columns, width), flip(rows, height)],
    8: [flip(columns, width), rows],
  };
  const [up, across] = turns[orientation] ?? turns[1]!;
  return [(8 - up) % 8, (8 - across) % 8];
}
