/**
 * The quantization-constraint projection, a named step of every restore of a JPEG (after the tiles are
 * blended, before encoding; any model): the restored image, in its source's colour space and chroma
 * sampling, gets each 8×8 block's DCT clipped to the quantization cell its source coefficient came from,
 * so that the derivative is one that would have been compressed to the very file it was restored from.
 * Run in bands of one MCU row, so its memory is a few rows of floats whatever the image's size.
 */

import {
  applyBand,
  type ComponentPlane,
  componentPlane,
  gatherBand,
  storedLayout,
} from "../image/source-planes.js";
import {
  type CellMargin,
  type CellTables,
  cellTables,
  clipBlock,
  clipEdgeBlock,
  edgeScratch,
} from "../jpeg/cells.js";

/** What the projection reads of a decoded JPEG (lib/jpeg/coefficients.ts). */
export interface SourceCoefficients {
  readonly width: number;
  readonly height: number;
  readonly precision: number;
  readonly maxH: number;
  readonly maxV: number;
  readonly adobeTransform?: number;
  readonly components: readonly {
    readonly id: number;
    readonly h: number;
    readonly v: number;
    readonly quant: Uint16Array;
    readonly blocksWide: number;
    readonly blocksHigh: number;
    readonly coefficients: Int16Array;
  }[];
}

/**
 * The margin inside each cell. 8-bit rounding moves a coefficient by about 0.19 (standard deviation) and
 * the default derivative's JPEG at quality 95 by up to 1/25 of a source step at quality ≤ 50 (its steps are
 * 1/12.5 of those), so the margin is 0.6 or 6 % of the step, the larger (tests/integration/projection.test.ts).
 */
export const DEFAULT_MARGIN: CellMargin = Object.freeze({ fraction: 0.06, absolute: 0.6 });

/** Alternating projections for blocks the image only partly covers (see clipEdgeBlock). */
const EDGE_ROUNDS = 24;

/** Why the projection cannot apply to a source, or null when it can. */
export function projectionSkipReason(
  source: SourceCoefficients,
  uprightWidth: number,
  uprightHeight: number,
  orientation: number,
): string | null {
  const { components, precision } = source;
  if (precision !== 8) return `${precision}-bit JPEG`;
  if (components.length === 4) return "CMYK JPEG";
  if (components.length !== 1 && components.length !== 3) return `JPEG with ${components.length} components`;
  if (components.length === 3 && isRgb(source)) return "JPEG stored as RGB (no YCbCr transform)";
  for (const c of components) {
    if (source.maxH % c.h !== 0 || source.maxV % c.v !== 0)
      return `sampling factors ${components.map((k) => `${k.h}x${k.v}`).join(",")} (not whole ratios)`;
  }
  const layout = storedLayout(uprightWidth, uprightHeight, orientation);
  if (layout.width !== source.width || layout.height !== source.height)
    return `the frame is ${source.width}×${source.height}, the decoded image ${uprightWidth}×${uprightHeight} at orientation ${orientation}`;
  return null;
}

/** libjpeg's rule without a JFIF marker: Adobe transform 0, or component ids 'R', 'G', 'B'. */
function isRgb(source: SourceCoefficients): boolean {
  if (source.adobeTransform !== undefined) return source.adobeTransform === 0;
  const [a, b, c] = source.components;
  return a!.id === 0x52 && b!.id === 0x47 && c!.id === 0x42;
}

export interface ProjectionStats {
  /** The source's coefficients that the restoration had moved out of their cells (and were put back). */
  readonly clipped: number;
  readonly coefficients: number;
}

/**
 * Projects `rgb` (upright, interleaved, `width` × `height`) in place onto the cells of `source`. The caller
 * has checked {@link projectionSkipReason}.
 */
export function projectOntoSource(
  rgb: Uint8Array,
  width: number,
  height: number,
  orientation: number,
  source: SourceCoefficients,
  margin: CellMargin = DEFAULT_MARGIN,
): ProjectionStats {
  const layout = storedLayout(width, height, orientation);
  const { maxH, maxV } = source;
  const components: ComponentState[] = source.components.map((c, index) => {
    const sx = maxH / c.h;
    const sy = maxV / c.v;
    return {
      ...c,
      margin,
      cells: cellTables(c.quant, margin),
      edgeCells: new Map(),
      plane: componentPlane(index as 0 | 1 | 2, sx, sy, c.blocksWide, c.v, layout.width),
      coveredWidth: Math.ceil(layout.width / sx),
      coveredHeight: Math.ceil(layout.height / sy),
    };
  });
  const planes = components.map((c) => c.plane);
  const scratch = edgeScratch();
  const bandRows = 8 * maxV;
  let clipped = 0;
  for (let band = 0, y0 = 0; y0 < layout.height; band++, y0 += bandRows) {
    gatherBand(rgb, layout, y0, planes);
    for (const c of components) clipped += projectBand(c, band, scratch);
    applyBand(rgb, layout, y0, bandRows, planes);
  }
  const coefficients = components.reduce((n, c) => n + c.coefficients.length, 0);
  return { clipped, coefficients };
}

type ComponentState = SourceCoefficients["components"][number] & {
  readonly margin: CellMargin;
  readonly cells: CellTables;
  /** Partly covered blocks' tables, by cols · 8 + rows, made when first needed. */
  readonly edgeCells: Map<number, CellTables>;
  readonly plane: ComponentPlane;
  /** Samples the image covers; the encoder padded the blocks past them. */
  readonly coveredWidth: number;
  readonly coveredHeight: number;
};

/** Clips the blocks of one component in band `band` (its plane holds their samples, then their changes). */
function projectBand(c: ComponentState, band: number, scratch: Float32Array): number {
  const { plane, blocksWide } = c;
  let clipped = 0;
  for (let t = 0; t < c.v; t++) {
    const by = band * c.v + t;
    if (by >= c.blocksHigh) break;
    const rows = Math.min(8, c.coveredHeight - by * 8);
    for (let bx = 0; bx < blocksWide; bx++) {
      const cols = Math.min(8, c.coveredWidth - bx * 8);
      const offset = t * 8 * plane.width + bx * 8;
      const k0 = (by * blocksWide + bx) * 64;
      if (cols === 8 && rows === 8) {
        clipped += clipBlock(plane.data, offset, plane.width, c.coefficients, k0, c.cells);
        continue;
      }
      let cells = c.edgeCells.get(cols * 8 + rows);
      if (cells === undefined) {
        cells = cellTables(c.quant, c.margin, cols, rows);
        c.edgeCells.set(cols * 8 + rows, cells);
      }
      const at = { offset, stride: plane.width, cols, rows };
      clipped += clipEdgeBlock(plane.data, at, c.coefficients, k0, cells, scratch, EDGE_ROUNDS);
    }
  }
  return clipped;
}
