/**
 * The band moves of source-planes.ts for a grey JPEG (one component), written out as source-planes-fast.ts
 * does for colour (module functions getting their arrays as arguments, not closures). Apart from it so that
 * each file stays short; a grey image calls the shared conversion and rounding through their exported
 * bindings, a little slower than the colour loops' own names (grey sources are the rarer ones).
 */
import type { BandIo, ComponentPlane, StoredLayout } from "./source-planes.js";
import { clampedSoFar, lumaOf, roundInto, storedRowAt } from "./source-planes-fast.js";

/** One component (grey): the changed luma is written to all three channels. */
export function greyIo(rgb: Uint8Array, layout: StoredLayout, plane: ComponentPlane): BandIo {
  return {
    planes: [plane],
    gather: (y0, x0, x1) => gatherGrey(rgb, layout, plane.data, plane.width, plane.rows, y0, x0, x1),
    apply: (y0, x0, x1) => applyGrey(rgb, layout, plane.data, plane.width, plane.rows, y0, x0, x1),
  };
}

function gatherGrey(
  rgb: Uint8Array,
  layout: StoredLayout,
  L: Float32Array,
  lw: number,
  rows: number,
  y0: number,
  x0: number,
  x1: number,
): void {
  const step = layout.dx * 3;
  const lastX = layout.width - 1;
  const end = Math.min(x1, lw);
  for (let j = 0; j < rows; j++) {
    const row = storedRowAt(layout, y0 + j);
    for (let x = x0, l = j * lw + x0; x < end; x++, l++) {
      const p = row + Math.min(x, lastX) * step;
      L[l] = lumaOf(rgb[p]!, rgb[p + 1]!, rgb[p + 2]!);
    }
  }
}

function applyGrey(
  rgb: Uint8Array,
  layout: StoredLayout,
  L: Float32Array,
  lw: number,
  rows: number,
  y0: number,
  x0: number,
  x1: number,
): number {
  const step = layout.dx * 3;
  const end = Math.min(x1, layout.width);
  const before = clampedSoFar();
  for (let j = 0; j < rows && y0 + j < layout.height; j++) {
    const row = storedRowAt(layout, y0 + j);
    let carry = 0;
    for (let x = x0, l = j * lw + x0; x < end; x++, l++) {
      const p = row + x * step;
      carry = roundInto(rgb, p, lumaOf(rgb[p]!, rgb[p + 1]!, rgb[p + 2]!) + 128 + L[l]! + carry);
      rgb[p + 1] = rgb[p]!;
      rgb[p + 2] = rgb[p]!;
    }
  }
  return clampedSoFar() - before;
}
