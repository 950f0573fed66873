/**
 * `detectRecompression`: whether a JPEG was compressed harder once before its last save, on what grid and at
 * what IJG quality, from its quantized coefficients (lib/jpeg/coefficients.ts) alone. Pure; luma only.
 *
 * An earlier quantization with step s leaves each DCT frequency's values, on its own 8×8 grid, near the
 * multiples of s (lib/jpeg/step-estimate.ts). Where that grid is the last one (a re-save of the whole
 * image), the file's own coefficients show it; where a crop shifted it, the luma decoded from them does,
 * on the blocks of the right one of the 64 offsets: the offsets are ranked by the blocking at each
 * column and row phase, the likeliest tested on their DC. The earlier steps of the lowest frequencies are
 * then estimated on that grid and fitted with the nearest IJG quality.
 */
import type { JpegCoefficients } from "./coefficients.js";
import { FORWARD_SCALE, forwardDct } from "./dct.js";
import { ANNEX_K_LUMA, ijgTable } from "./ijg.js";
import { type LumaPlane, lumaPlane } from "./luma-plane.js";
import { estimateStep, histogramOf, type StepEstimate } from "./step-estimate.js";

export interface Recompression {
  /** IJG quality (1..100) of the earlier, harder compression: the IJG tables nearest its steps. */
  readonly quality: number;
  /**
   * Rows and columns of padding at the top and left that put the earlier compression's 8×8 grid at the
   * image's origin: its blocks start at rows y with (y + dy) % 8 = 0 and columns x with (x + dx) % 8 = 0.
   * [0, 0]: the last compression's grid.
   */
  readonly offset: readonly [dy: number, dx: number];
  /**
   * 0..1: of the DC values on that grid, the share sitting on the earlier step's multiples beyond chance
   * (0: as many as anywhere, 1: all of them).
   */
  readonly confidence: number;
}

/** The least share of DC values in the band of their step (lib/jpeg/step-estimate.ts) to call it found. */
const DC_PASS = 0.8;
/** The same for an AC frequency's values past zero's band. */
const AC_PASS = 0.8;
/** Frequencies up to 3 in each direction (the first 10 in zigzag order, and 6 more). */
const LOW = 4;
/** Column (row) phases whose blocking is tested, besides phase 0, in order of their blocking. */
const PHASES_TRIED = 3;
/** Least blocks on the grid for a verdict. */
const MIN_BLOCKS = 64;

/** A grid whose DC values show an earlier step; its blocks start at row `py`, column `px`. */
interface Grid {
  readonly dc: StepEstimate;
  readonly py: number;
  readonly px: number;
}

/** The earlier compression, or null when there is none to see (or too little image to see it in). */
export function detectRecompression(image: JpegCoefficients): Recompression | null {
  if (image.precision !== 8 || image.components.length === 0) return null;
  const luma = image.components[0]!;
  const lastDc = luma.quant[0]!;
  const dcSearch = {
    minStep: Math.max(2 * lastDc + 2, 8),
    maxStep: 512,
    dc: true,
    minCount: MIN_BLOCKS,
    minPeaks: 4,
    pass: DC_PASS,
  };

  // The last grid: the file's own DC values; then the likeliest shifted grids, on the decoded luma. A wrong
  // grid can show a lattice too (a block one row off a grid of flat blocks averages two of its multiples:
  // 7/8 of one and 1/8 of the next), but a finer one: the largest step that passes is the grid's.
  const grids: Grid[] = [];
  const test = (values: Float64Array, py: number, px: number) => {
    const dc = values.length < MIN_BLOCKS ? null : estimateStep(histogramOf(values, values.length), dcSearch);
    if (dc !== null) grids.push({ dc, py, px });
  };
  test(alignedValues(image, 0), 0, 0);
  const plane = lumaPlane(image);
  const [rowPhases, columnPhases] = likelyPhases(plane);
  const sums = integralOf(plane);
  for (const py of rowPhases) {
    for (const px of columnPhases) if (py !== 0 || px !== 0) test(shiftedDc(plane, sums, py, px), py, px);
  }
  const best = grids.reduce<Grid | null>(
    (a, g) =>
      a === null || g.dc.step > a.dc.step || (g.dc.step === a.dc.step && g.dc.fraction > a.dc.fraction)
        ? g
        : a,
    null,
  );
  if (best === null) return null;

  const steps = new Map<number, StepEstimate>([[0, best.dc]]);
  const acValues = best.py === 0 && best.px === 0 ? undefined : shiftedLow(plane, best.py, best.px);
  for (let v = 0; v < LOW; v++) {
    for (let u = 0; u < LOW; u++) {
      if (u === 0 && v === 0) continue;
      const k = v * 8 + u;
      const values = acValues === undefined ? alignedValues(image, k) : acValues.of(v * LOW + u);
      const estimate = estimateStep(histogramOf(values, values.length), {
        minStep: Math.max(2 * luma.quant[k]! + 2, 6),
        maxStep: 512,
        dc: false,
        minCount: 12,
        minPeaks: 1,
        pass: AC_PASS,
      });
      if (estimate !== null) steps.set(k, estimate);
    }
  }
  return {
    quality: fitIjgQuality(steps),
    offset: [(8 - best.py) % 8, (8 - best.px) % 8],
    confidence: Math.round(Math.min(1, Math.max(0, (best.dc.fraction - 1 / 3) / (2 / 3))) * 100) / 100,
  };
}

/**
 * The IJG quality whose luma table is nearest the estimated steps (natural index → estimate), in log
 * steps, DC weighing as much as four AC frequencies (its estimate rests on every block).
 */
export function fitIjgQuality(steps: ReadonlyMap<number, StepEstimate>): number {
  let best = 1;
  let bestCost = Number.POSITIVE_INFINITY;
  for (let q = 1; q <= 100; q++) {
    const table = ijgTable(ANNEX_K_LUMA, q, 32767);
    let cost = 0;
    for (const [k, { step }] of steps) {
      const d = Math.log(step / table[k]!);
      cost += (k === 0 ? 4 : 1) * d * d;
    }
    if (cost < bestCost) {
      best = q;
      bestCost = cost;
    }
  }
  return best;
}

/** Dequantized luma coefficient `k` of every whole block of the decoded rows (edge blocks are padding). */
function alignedValues(image: JpegCoefficients, k: number): Float64Array {
  const luma = image.components[0]!;
  const plane = {
    width: Math.ceil((image.width * luma.h) / image.maxH),
    height: Math.ceil((image.height * luma.v) / image.maxV),
  };
  const wide = Math.min(luma.blocksWide, Math.floor(plane.width / 8));
  const high = Math.min(luma.rows ?? luma.blocksHigh, Math.floor(plane.height / 8));
  const out = new Float64Array(wide * high);
  const step = luma.quant[k]!;
  for (let by = 0, i = 0; by < high; by++) {
    for (let bx = 0; bx < wide; bx++, i++)
      out[i] = luma.coefficients[(by * luma.blocksWide + bx) * 64 + k]! * step;
  }
  return out;
}

/**
 * Row phases and column phases worth testing: 0 (the last grid's) and the {@link PHASES_TRIED} with the
 * largest steps between neighbouring samples across them (an earlier grid's block edges).
 */
function likelyPhases(plane: LumaPlane): [number[], number[]] {
  const { data, width, height, stride } = plane;
  const across = new Float64Array(8); // between columns x − 1 and x, by x mod 8
  const down = new Float64Array(8); // between rows y − 1 and y, by y mod 8
  // Every other row, and every other column: a ranking, not a measure.
  for (let y = 0; y < height; y += 2) {
    const row = y * stride;
    for (let x = 1; x < width; x++) across[x & 7]! += Math.abs(data[row + x]! - data[row + x - 1]!);
  }
  for (let y = 1; y < height; y++) {
    const row = y * stride;
    let sum = 0;
    for (let x = 0; x < width; x += 2) sum += Math.abs(data[row + x]! - data[row - stride + x]!);
    down[y & 7]! += sum;
  }
  const ranked = (scores: Float64Array) => {
    const order = [0, 1, 2, 3, 4, 5, 6, 7].sort((a, b) => scores[b]! - scores[a]!).slice(0, PHASES_TRIED);
    return [0, ...order.filter((p) => p !== 0)];
  };
  return [ranked(down), ranked(across)];
}

/** Sums of the plane over [0, y) × [0, x) at `(y * (width + 1) + x)`: any block's sum in four look-ups. */
function integralOf(plane: LumaPlane): Float64Array {
  const { data, width, height, stride } = plane;
  const sums = new Float64Array((width + 1) * (height + 1));
  for (let y = 0; y < height; y++) {
    let row = 0;
    const above = y * (width + 1);
    const here = above + width + 1;
    for (let x = 0; x < width; x++) {
      row += data[y * stride + x]!;
      sums[here + x + 1] = sums[above + x + 1]! + row;
    }
  }
  return sums;
}

/** DC (8 × the mean − 1024) of every whole block of the grid whose blocks start at row `py`, column `px`. */
function shiftedDc(plane: LumaPlane, sums: Float64Array, py: number, px: number): Float64Array {
  const w = plane.width + 1;
  const down = Math.max(0, Math.floor((plane.height - py) / 8));
  const across = Math.max(0, Math.floor((plane.width - px) / 8));
  const out = new Float64Array(down * across);
  for (let j = 0, n = 0; j < down; j++) {
    const top = (py + 8 * j) * w + px;
    const bottom = top + 8 * w;
    for (let i = 0; i < across; i++, n++) {
      const x = 8 * i;
      const sum = sums[bottom + x + 8]! - sums[bottom + x]! - sums[top + x + 8]! + sums[top + x]!;
      out[n] = sum / 8 - 1024;
    }
  }
  return out;
}

/** The lowest LOW × LOW frequencies of every whole block of the grid at (py, px), by frequency. */
function shiftedLow(plane: LumaPlane, py: number, px: number): { of(index: number): Float64Array } {
  const { data, width, height, stride } = plane;
  const across = Math.floor((width - px) / 8);
  const down = Math.floor((height - py) / 8);
  const blocks = across * down;
  const all = new Float64Array(blocks * LOW * LOW);
  const block = new Float32Array(64);
  for (let j = 0, b = 0; j < down; j++) {
    for (let i = 0; i < across; i++, b++) {
      const at = (py + 8 * j) * stride + px + 8 * i;
      for (let y = 0; y < 8; y++) block.set(data.subarray(at + y * stride, at + y * stride + 8), y * 8);
      for (let k = 0; k < 64; k++) block[k]! -= 128;
      forwardDct(block, 0, 8);
      for (let v = 0; v < LOW; v++) {
        for (let u = 0; u < LOW; u++)
          all[(v * LOW + u) * blocks + b] = block[v * 8 + u]! / FORWARD_SCALE[v * 8 + u]!;
      }
    }
  }
  return { of: (index) => all.subarray(index * blocks, (index + 1) * blocks) };
}
