/**
 * The quantization-constraint projection, a named step of every restore of a JPEG (after the tiles are
 * blended, before encoding; any model): the restored image, in its source's colour space and chroma
 * sampling, gets each 8×8 block's DCT clipped to the quantization cell its source coefficient came from,
 * so that the derivative is one that would have been compressed to the very file it was restored from.
 * Run in bands of one MCU row, so its memory is a few rows of floats whatever the image's size.
 */

import { bandIo, type ComponentPlane, copyPixels, storedLayout } from "../image/source-planes.js";
import {
  type CellMargin,
  type CellTables,
  cellTables,
  clipBlock,
  clipEdgeBlock,
  type Outside,
} from "../jpeg/cells.js";
import type { JpegCoefficients } from "../jpeg/coefficients.js";

/** What the projection reads of a decoded JPEG: all but how its scans were coded. */
export type SourceCoefficients = Omit<JpegCoefficients, "progressive">;

/**
 * What follows the projection, as margins inside the cells (DCT units) on top of its own rounding: the
 * derivative's, where it is a JPEG (lib/restore/projection-step.ts outputMargins).
 */
export interface OutputMargins {
  /** For every coefficient. */
  readonly absolute: number;
  /** Per coefficient (natural order) for the luma component, and for the chroma components. */
  readonly luma?: ArrayLike<number>;
  readonly chroma?: ArrayLike<number>;
}

/** A lossless derivative: the projection's own rounding only. */
export const LOSSLESS_OUTPUT: OutputMargins = Object.freeze({ absolute: 0 });

/**
 * The projection's own rounding to 8 bits, spread along each row (source-planes-fast.ts roundInto): about 0.75
 * (3 standard deviations) where it lands at low horizontal frequencies, growing with them as spreading
 * pushes the error there (× 1 + 2 sin(πv/16): 2.2 at v = 7).
 */
const ROUNDING_MARGIN = Float32Array.from(
  { length: 64 },
  (_, i) => 0.75 * (1 + 2 * Math.sin((Math.PI * (i & 7)) / 16)),
);

function marginOf(output: OutputMargins, perCoefficient: ArrayLike<number> | undefined): Float32Array {
  return ROUNDING_MARGIN.map((m, i) => m + output.absolute + (perCoefficient?.[i] ?? 0));
}

/** Pixels across a chunk of a band (see projectOntoSource): its planes and pixels, ~150 KB, fit in L2. */
const CHUNK_PIXELS = 1024;

/** Alternating projections for blocks the image only partly covers (see clipEdgeBlock). */
const EDGE_ROUNDS = 24;

/** Projections again of MCUs whose change 8-bit clamping cut short (a band's pixels leaving 0..255). */
const CLAMP_ROUNDS = 4;

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
  output: OutputMargins = LOSSLESS_OUTPUT,
): ProjectionStats {
  const layout = storedLayout(width, height, orientation);
  const { maxH, maxV } = source;
  const sampled = source.components.map((c) => ({ ...c, sx: maxH / c.h, sy: maxV / c.v }));
  const io = bandIo(rgb, layout, sampled);
  const components: ComponentState[] = sampled.map((c, index) => {
    const margin = marginOf(output, index === 0 ? output.luma : output.chroma);
    return {
      ...c,
      margin,
      cells: cellTables(c.quant, margin),
      edgeCells: new Map(),
      plane: io.planes[index]!,
      coveredWidth: Math.ceil(layout.width / c.sx),
      coveredHeight: Math.ceil(layout.height / c.sy),
    };
  });
  // Which MCUs of the band changed: the pixels of the others are left alone (most, after a good model).
  const mcuWidth = 8 * maxH;
  const mcus = Math.ceil(layout.width / mcuWidth);
  const changed = new Uint8Array(mcus);
  const grey = components.length === 1;
  const cut = new Float64Array(mcus); // levels clamping cut off each MCU's change
  let saved: Uint8Array | undefined; // a band's pixels before a round of clamp repair
  let clipped = 0;
  // A band is done a chunk of MCUs at a time, whose pixels, planes and coefficients stay in the core's
  // cache from gathering to writing back (a whole band of a 12 MP image does not: it took about 40 % longer
  // per pixel). Every MCU is projected on its own pixels alone, so the chunks change nothing else.
  const chunk = Math.max(1, Math.floor(CHUNK_PIXELS / mcuWidth));
  for (let band = 0, y0 = 0; y0 < layout.height; band++, y0 += 8 * maxV) {
    for (let c0 = 0; c0 < mcus; c0 += chunk) {
      const c1 = Math.min(mcus, c0 + chunk);
      io.gather(y0, c0 * mcuWidth, c1 * mcuWidth);
      // A grey source's every pixel is written (as its luma), so that the encoder's grey is that luma.
      changed.fill(grey ? 1 : 0, c0, c1);
      for (const c of components) clipped += projectBand(c, band, changed, c0, c1);
      // Written back MCU by MCU. Where 8-bit clamping cut a change short, the MCU is projected again from
      // its clamped pixels, and again, while that pays: each round must at least halve what clamping cuts
      // off, or it is undone. Clamping that does not give way (a black shadow, a white sky, whose truth is
      // clamped too) would only push the other channels around the clamped one, round after round.
      for (let m = c0; m < c1; m++) {
        if (changed[m] === 0) continue;
        cut[m] = io.apply(y0, m * mcuWidth, (m + 1) * mcuWidth);
        changed[m] = cut[m]! > 0 ? 1 : 0;
      }
      for (let round = 0; round < CLAMP_ROUNDS; round++) {
        const runs = runsOf(changed, c0, c1);
        if (runs.length === 0) break;
        saved ??= new Uint8Array(8 * maxV * layout.width * 3);
        for (const [m0, m1] of runs) {
          changed.fill(0, m0, m1);
          io.gather(y0, m0 * mcuWidth, m1 * mcuWidth);
          for (const c of components) projectBand(c, band, changed, m0, m1, "cell");
          for (let m = m0; m < m1; m++) {
            if (changed[m] === 0) continue;
            const [x0, x1] = [m * mcuWidth, (m + 1) * mcuWidth];
            copyPixels(rgb, layout, y0, 8 * maxV, x0, x1, saved, "save");
            const now = io.apply(y0, x0, x1);
            if (now > cut[m]! / 2) {
              copyPixels(rgb, layout, y0, 8 * maxV, x0, x1, saved, "restore");
              changed[m] = 0;
            } else {
              cut[m] = now;
              changed[m] = now > 0 ? 1 : 0;
            }
          }
        }
      }
    }
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

/** Runs [first, end) of MCUs marked in `changed[from .. to)`. */
function runsOf(changed: Uint8Array, from: number, to: number): [number, number][] {
  const runs: [number, number][] = [];
  for (let m = from; m < to; m++) {
    if (changed[m] === 0) continue;
    const first = m;
    while (m + 1 < to && changed[m + 1] !== 0) m++;
    runs.push([first, m + 1]);
  }
  return runs;
}

/**
 * Clips the blocks of one component in band `band` and MCUs [m0, m1) (its plane holds their samples,
 * then their changes), marking the MCUs with coefficients `outside`; returns how many.
 */
function projectBand(
  c: ComponentState,
  band: number,
  changed: Uint8Array,
  m0: number,
  m1: number,
  outside: Outside = "margin",
): number {
  const { plane, blocksWide } = c;
  let clipped = 0;
  for (let t = 0; t < c.v; t++) {
    const by = band * c.v + t;
    if (by >= c.blocksHigh) break;
    const rows = Math.min(8, c.coveredHeight - by * 8);
    for (let bx = m0 * c.h; bx < Math.min(m1 * c.h, blocksWide); bx++) {
      const cols = Math.min(8, c.coveredWidth - bx * 8);
      const offset = t * 8 * plane.width + bx * 8;
      const k0 = (by * blocksWide + bx) * 64;
      const n =
        cols === 8 && rows === 8
          ? clipBlock(plane.data, offset, plane.width, c.coefficients, k0, c.cells, outside)
          : clipEdge(c, plane, offset, cols, rows, k0, outside);
      const m = Math.floor(bx / c.h);
      changed[m] = Math.min(255, changed[m]! + n);
      clipped += n;
    }
  }
  return clipped;
}

function clipEdge(
  c: ComponentState,
  plane: ComponentPlane,
  offset: number,
  cols: number,
  rows: number,
  k0: number,
  outside: Outside,
): number {
  let cells = c.edgeCells.get(cols * 8 + rows);
  if (cells === undefined) {
    cells = cellTables(c.quant, c.margin, cols, rows);
    c.edgeCells.set(cols * 8 + rows, cells);
  }
  const at = { offset, stride: plane.width, cols, rows };
  return clipEdgeBlock(plane.data, at, c.coefficients, k0, cells, EDGE_ROUNDS, outside);
}
