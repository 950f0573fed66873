/**
 * The restored image seen as a JPEG encoder sees its source: in the file's stored orientation, converted
 * to YCbCr as libjpeg converts (JFIF, full range), each component box-averaged to its sampling, the edges
 * repeated to whole blocks, one band of rows at a time; and back, changes to those planes applied to the
 * 8-bit RGB. The pixels stay in the upright buffer the pipeline made; stored coordinates are mapped onto it.
 */
import {
  blueOf,
  cbOf,
  clampedSoFar,
  crOf,
  fullColourIo,
  greenOf,
  halfColourIo,
  lumaOf,
  redOf,
  roundInto,
} from "./source-planes-fast.js";
import { greyIo } from "./source-planes-grey.js";

/** Where stored pixel (x, y) lies in the upright buffer: pixel index `base + x·dx + y·dy`. */
export interface StoredLayout {
  /** Size as stored in the file (before the EXIF orientation). */
  readonly width: number;
  readonly height: number;
  readonly base: number;
  readonly dx: number;
  readonly dy: number;
}

/** The layout of an upright `width` × `height` image whose file is stored with EXIF `orientation`. */
export function storedLayout(width: number, height: number, orientation: number): StoredLayout {
  const swap = orientation >= 5 && orientation <= 8;
  const sw = swap ? height : width;
  const sh = swap ? width : height;
  const W = width;
  // autoOrient's turns: stored (x, y) lands at upright (u, v), pixel v·W + u.
  const maps: Record<number, [number, number, number]> = {
    1: [0, 1, W], // u = x, v = y
    2: [sw - 1, -1, W], // u = sw−1−x
    3: [(sh - 1) * W + sw - 1, -1, -W], // both flipped
    4: [(sh - 1) * W, 1, -W], // v = sh−1−y
    5: [0, W, 1], // u = y, v = x
    6: [sh - 1, W, -1], // u = sh−1−y, v = x
    7: [(sw - 1) * W + sh - 1, -W, -1], // u = sh−1−y, v = sw−1−x
    8: [(sw - 1) * W, -W, 1], // u = y, v = sw−1−x
  };
  const [base, dx, dy] = maps[orientation] ?? maps[1]!;
  return { width: sw, height: sh, base, dx, dy };
}

/** One component's plane for a band: the component's samples over whole blocks, level-shifted by 128. */
export interface ComponentPlane {
  /** Full-resolution pixels per sample across and down (maxH / h, maxV / v). */
  readonly sx: number;
  readonly sy: number;
  /** Samples across (blocks across × 8) and rows (8 × v, one band). */
  readonly width: number;
  readonly rows: number;
  readonly data: Float32Array;
}

/** Moves one band of rows (the first stored row `y0`) between the image and the planes. */
export interface BandIo {
  readonly planes: readonly ComponentPlane[];
  /**
   * Fills the planes: each sample the mean of its sx × sy pixels, coordinates past the image repeating the
   * last column and row (as libjpeg pads). Only the samples of stored columns [x0, x1), multiples of the MCU
   * width (x1 may run past the planes).
   */
  gather(y0: number, x0: number, x1: number): void;
  /**
   * Adds the planes' changes (now in `data`) to the band's pixels, each sample's change to all the pixels it
   * covers, so that averaging the result again gives the changed sample; rounds to 8 bits (clamped). With
   * one plane (grey), every channel is set to the changed luma. Only stored columns [x0, x1) are touched
   * (the caller skips MCUs where nothing changed: both are multiples of the MCU width). Returns the levels
   * that clamping to 0 and 255 cut off, in all (where not 0, the band no longer has exactly the planes'
   * change).
   */
  apply(y0: number, x0: number, x1: number): number;
}

/**
 * The band planes of `rgb` (upright, interleaved) for components sampled `sx` × `sy` (luma first, then Cb
 * and Cr; one component: grey), `blocksWide` blocks across and `v` block rows a band each.
 */
export function bandIo(
  rgb: Uint8Array,
  layout: StoredLayout,
  components: readonly { sx: number; sy: number; blocksWide: number; v: number }[],
): BandIo {
  const planes = components.map(({ sx, sy, blocksWide, v }) => {
    const width = blocksWide * 8;
    return { sx, sy, width, rows: 8 * v, data: new Float32Array(width * 8 * v) };
  });
  const [luma, cb, cr] = planes as [ComponentPlane, ComponentPlane?, ComponentPlane?];
  if (luma.sx !== 1 || luma.sy !== 1) return generic(rgb, layout, planes);
  if (cb === undefined || cr === undefined) return greyIo(rgb, layout, luma);
  if (cb.sx !== cr.sx || cb.sy !== cr.sy) return generic(rgb, layout, planes);
  if (cb.sx === 1 && cb.sy === 1) return fullColourIo(rgb, layout, planes);
  if (cb.sx === 2 && cb.sy <= 2) return halfColourIo(rgb, layout, planes);
  return generic(rgb, layout, planes);
}

/**
 * Copies the pixels of stored rows [y0, y0 + rows) and columns [x0, x1) from the image into `saved`
 * (`save`), or back (`restore`); `saved` holds `rows` stored rows of the whole width.
 */
export function copyPixels(
  rgb: Uint8Array,
  layout: StoredLayout,
  y0: number,
  rows: number,
  x0: number,
  x1: number,
  saved: Uint8Array,
  direction: "save" | "restore",
): void {
  const { width: sw, height: sh, base, dx, dy } = layout;
  for (let y = y0; y < Math.min(y0 + rows, sh); y++) {
    for (let x = x0; x < Math.min(x1, sw); x++) {
      const p = (base + x * dx + y * dy) * 3;
      const q = ((y - y0) * sw + x) * 3;
      for (let c = 0; c < 3; c++) {
        if (direction === "save") saved[q + c] = rgb[p + c]!;
        else rgb[p + c] = saved[q + c]!;
      }
    }
  }
}

/** Any other sampling (4:4:0, 4:1:1, luma below full resolution, ...): plane by plane, pixel by pixel. */
function generic(rgb: Uint8Array, layout: StoredLayout, planes: readonly ComponentPlane[]): BandIo {
  const { width: sw, height: sh, base, dx, dy } = layout;
  const conversions = [lumaOf, cbOf, crOf] as const;
  const gather = (y0: number, x0: number, x1: number) => {
    planes.forEach(({ sx, sy, width, rows, data }, role) => {
      const convert = conversions[role]!;
      for (let j = 0; j < rows; j++) {
        for (let i = x0 / sx; i < Math.min(x1 / sx, width); i++) {
          let sum = 0;
          for (let b = 0; b < sy; b++) {
            const row = base + Math.min(y0 + j * sy + b, sh - 1) * dy;
            for (let a = 0; a < sx; a++) {
              const p = (row + Math.min(i * sx + a, sw - 1) * dx) * 3;
              sum += convert(rgb[p]!, rgb[p + 1]!, rgb[p + 2]!);
            }
          }
          data[j * width + i] = sum / (sx * sy);
        }
      }
    });
  };
  const apply = (y0: number, x0: number, x1: number) => {
    const [luma, cb, cr] = planes as [ComponentPlane, ComponentPlane, ComponentPlane];
    const at = (plane: ComponentPlane, x: number, y: number) =>
      plane.data[Math.floor((y - y0) / plane.sy) * plane.width + Math.floor(x / plane.sx)]!;
    const end = Math.min(y0 + luma.rows * luma.sy, sh);
    const before = clampedSoFar();
    for (let y = y0; y < end; y++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (let x = x0; x < Math.min(x1, sw); x++) {
        const dY = at(luma, x, y);
        const dCb = at(cb, x, y);
        const dCr = at(cr, x, y);
        const p = (base + x * dx + y * dy) * 3;
        r = roundInto(rgb, p, rgb[p]! + dY + redOf(dCr) + r);
        g = roundInto(rgb, p + 1, rgb[p + 1]! + dY + greenOf(dCb, dCr) + g);
        b = roundInto(rgb, p + 2, rgb[p + 2]! + dY + blueOf(dCb) + b);
      }
    }
    return clampedSoFar() - before;
  };
  return { planes, gather, apply };
}
