/**
 * Quantization cells: the DCT coefficients a JPEG's quantized value k (step q) stands for are the cell
 * [(k − ½)q, (k + ½)q]. Clipping a block's DCT to its cells makes it one that quantizes to the same file.
 * A margin inside each cell leaves room for what happens after: rounding to 8 bits and the encoder of the
 * derivative move coefficients by a fraction of a unit, so a coefficient left on the cell's edge could
 * fall out of it.
 */
import {
  BLOCK,
  FORWARD_SCALE,
  forwardBlock,
  INVERSE_SCALE,
  inverseBlock,
  loadBlock,
  storeBlock,
} from "./dct.js";

/** Per component: the cells in the scaled units of `forwardDct`, and the factor back to `inverseDct`'s. */
export interface CellTables {
  /** q · scale: the centre of value k's cell is k · step. */
  readonly step: Float32Array;
  /** Half the clipped cell's width, scaled: (q/2 − margin) · scale, never below 0. */
  readonly half: Float32Array;
  /** Half the cell's own width, scaled: q/2 · scale. */
  readonly bound: Float32Array;
  /** INVERSE_SCALE / FORWARD_SCALE: a change in forward units to inverse-DCT input. */
  readonly post: Float32Array;
}

/**
 * How far, in DCT units, what follows the projection may move each coefficient (64, natural order): a cell
 * is clipped to its middle, `margin` in from each side. A step too small to keep the margin pins the
 * coefficient to its cell's centre.
 */
export type CellMargin = ArrayLike<number>;

/**
 * The tables for a block the image covers `cols` × `rows` of (8 × 8: a whole block). In a partly covered
 * block the encoder repeats the last column and row, so a rounding error there is repeated too: the margin
 * grows by how much the padding amplifies an error at each frequency (1 for a whole block, 8 for the DC of a
 * one-pixel corner).
 */
export function cellTables(quant: ArrayLike<number>, margin: CellMargin, cols = 8, rows = 8): CellTables {
  const step = new Float32Array(64);
  const half = new Float32Array(64);
  const bound = new Float32Array(64);
  const post = new Float32Array(64);
  const across = paddingGain(cols);
  const down = paddingGain(rows);
  for (let i = 0; i < 64; i++) {
    const q = quant[i]!;
    const scale = FORWARD_SCALE[i]!;
    const gain = Math.sqrt(down[i >> 3]! * across[i & 7]!);
    step[i] = q * scale;
    half[i] = Math.max(0, q / 2 - margin[i]! * gain) * scale;
    bound[i] = (q / 2) * scale;
    post[i] = INVERSE_SCALE[i]! / scale;
  }
  return { step, half, bound, post };
}

/**
 * Per 1-D frequency, the variance a unit-variance independent error on the `n` covered samples has after
 * the last one is repeated to 8 and transformed: Σ over covered samples of (the basis summed over its copies)².
 */
function paddingGain(n: number): Float64Array {
  const gain = new Float64Array(8);
  for (let k = 0; k < 8; k++) {
    const basis = (x: number) =>
      (k === 0 ? Math.SQRT1_2 : 1) * 0.5 * Math.cos(((2 * x + 1) * k * Math.PI) / 16);
    let sum = 0;
    for (let j = 0; j < n; j++) {
      let b = 0;
      for (let x = j; x < (j === n - 1 ? 8 : j + 1); x++) b += basis(x);
      sum += b * b;
    }
    gain[k] = sum;
  }
  return gain;
}

/**
 * What a clip counts: coefficients outside the clipped middle of their cells (`margin`), or outside the
 * cells themselves (`cell`: those that would quantize to another value).
 */
export type Outside = "margin" | "cell";

/**
 * The tables of the last cells {@link clipBlock} used, copied into a module constant: step, half, bound and
 * post, 64 each. V8 builds a constant's address into the code, where each table reached through an object
 * is reloaded and checked at every coefficient (a third of the clip's time).
 */
const LOADED = new Float64Array(256);
let loaded: CellTables | undefined;
/** `cells` in {@link LOADED}. */
function load(cells: CellTables): Float64Array {
  if (cells !== loaded) {
    LOADED.set(cells.step, 0);
    LOADED.set(cells.half, 64);
    LOADED.set(cells.bound, 128);
    LOADED.set(cells.post, 192);
    loaded = cells;
  }
  return LOADED;
}

/** dct.ts's block, as a module constant of this module too (an imported binding is read and checked at each use). */
const TRANSFORMED = BLOCK;

/**
 * The 8×8 block at `offset` of `plane` (samples, level-shifted) becomes the change that brings its DCT into
 * the cells of `coefficients[k0 .. k0+64)` (quantized values, natural order), their margins kept. Returns
 * how many of its 64 coefficients were `outside`; when none were outside the margins, the block is all
 * zeros.
 */
export function clipBlock(
  plane: Float32Array,
  offset: number,
  stride: number,
  coefficients: Int16Array,
  k0: number,
  cells: CellTables,
  outside: Outside = "margin",
): number {
  const table = load(cells);
  const work = TRANSFORMED;
  const strict = outside === "cell";
  loadBlock(plane, offset, stride);
  forwardBlock();
  let clipped = 0;
  let counted = 0;
  for (let i = 0, k = k0; i < 64; i++, k++) {
    // How far the coefficient is from its cell's centre, against how far it may be: most are inside.
    const d = work[i]! - coefficients[k]! * table[i]!;
    const h = table[64 + i]!;
    if (Math.abs(d) <= h) {
      work[i] = 0;
      continue;
    }
    work[i] = ((d > 0 ? h : -h) - d) * table[192 + i]!;
    clipped++;
    if (!strict || Math.abs(d) > table[128 + i]!) counted++;
  }
  if (clipped > 0) inverseBlock();
  storeBlock(plane, offset, stride);
  return counted;
}

/** DCT units a partly covered block's coefficient may stay outside its clipped cell (well inside margins). */
const EDGE_TOLERANCE = 0.05;

/** {@link clipEdgeBlock}'s block as the image has it, and the change so far (module constants). */
const ORIGINAL = new Float32Array(64);
const DELTA = new Float32Array(64);
const SCALE = FORWARD_SCALE;

/**
 * {@link clipBlock} for a block the image covers only `cols` × `rows` of. The encoder filled the rest by
 * repeating the last column and row, and will again from the changed image; so the change must be such
 * a repetition there too. Alternating projections between that and the cells (at most `rounds`) find a
 * change in both, or close to it. Returns the coefficients `outside` at the start.
 */
export function clipEdgeBlock(
  plane: Float32Array,
  at: { readonly offset: number; readonly stride: number; readonly cols: number; readonly rows: number },
  coefficients: Int16Array,
  k0: number,
  cells: CellTables,
  rounds: number,
  outside: Outside = "margin",
): number {
  const { offset, stride, cols, rows } = at;
  const table = load(cells);
  const original = ORIGINAL;
  const delta = DELTA;
  const work = TRANSFORMED;
  const scale = SCALE;
  loadBlock(plane, offset, stride);
  original.set(work);
  delta.fill(0);
  let counted = 0;
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < 64; i++) work[i] = original[i]! + delta[i]!;
    forwardBlock();
    let worst = 0;
    for (let i = 0, k = k0; i < 64; i++, k++) {
      const g = work[i]!;
      const centre = coefficients[k]! * table[i]!;
      const lo = centre - table[64 + i]!;
      const hi = centre + table[64 + i]!;
      const v = Math.min(Math.max(g, lo), hi);
      if (v !== g) {
        worst = Math.max(worst, Math.abs(v - g) / scale[i]!);
        if (round === 0 && (outside === "margin" || Math.abs(g - centre) > table[128 + i]!)) counted++;
      }
      work[i] = v * table[192 + i]!;
    }
    // The last change is in both sets, or so nearly that the margins hold it.
    if (worst <= EDGE_TOLERANCE) break;
    inverseBlock();
    for (let i = 0; i < 64; i++) delta[i] = work[i]! - original[i]!;
    averageEdges(delta, cols, rows);
  }
  work.set(delta);
  storeBlock(plane, offset, stride);
  return counted;
}

/**
 * The nearest block (least squares) whose columns from `cols − 1` on are equal, and rows from `rows − 1`
 * on: each such run replaced by its mean. This is the orthogonal projection onto what the encoder's padding
 * can make, which the alternation needs (repeating the last column instead converges far more slowly).
 */
function averageEdges(block: Float32Array, cols: number, rows: number): void {
  if (cols < 8) {
    const n = 9 - cols;
    for (let r = 0; r < 8; r++) {
      let sum = 0;
      for (let c = cols - 1; c < 8; c++) sum += block[r * 8 + c]!;
      for (let c = cols - 1; c < 8; c++) block[r * 8 + c] = sum / n;
    }
  }
  if (rows < 8) {
    const n = 9 - rows;
    for (let c = 0; c < 8; c++) {
      let sum = 0;
      for (let r = rows - 1; r < 8; r++) sum += block[r * 8 + c]!;
      for (let r = rows - 1; r < 8; r++) block[r * 8 + c] = sum / n;
    }
  }
}
