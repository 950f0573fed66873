/**
 * The quantization step an earlier compression left on one DCT frequency, from that frequency's values over
 * many blocks (in DCT units, on the earlier compression's grid): quantized once with step s, they sit near
 * multiples of s (the peaks), with nothing in between (the gaps), whatever a later, finer compression
 * added on top. A single compression's values fill every gap.
 *
 * The test for a step s: of the values it says something about, the share within s/6 of a multiple of s
 * (the middle third of each period). Spread values put a third there by chance; an earlier step puts
 * nearly all. The step reported is the largest that passes (its divisors pass too; its multiples leave
 * half or more of the values out), refined to the one the values fit best. Counts are cumulated once, so a
 * step costs one look-up per multiple.
 */

/** Values are binned at this resolution (DCT units), over ±RANGE (8-bit DCT values stay within ±2048). */
const BIN = 0.5;
const RANGE = 2048;
/** Within this share of a period from a multiple: in the band. */
const BAND = 1 / 6;
/**
 * One bin counts at most this share of the values (and at least 4): a flat backdrop (a white page, a
 * black border) puts thousands of blocks on one value, which sits on the multiples of many steps.
 */
const CAP_SHARE = 0.02;

/** Binned values from bin `base` on: `cumulative[b]` is the (capped) count of bins base .. base + b − 1. */
export interface ValueHistogram {
  readonly base: number;
  readonly cumulative: Float64Array;
  /** The lowest and highest value present. */
  readonly lo: number;
  readonly hi: number;
}

const binOf = (v: number) => Math.round((v + RANGE) / BIN);

/** Bins `values[0, length)`; values beyond ±2048 are left out. */
export function histogramOf(values: Float64Array, length: number): ValueHistogram {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < length; i++) {
    const v = values[i]!;
    if (v < lo && v >= -RANGE) lo = v;
    if (v > hi && v <= RANGE) hi = v;
  }
  if (!(hi >= lo)) return { base: 0, cumulative: new Float64Array(1), lo, hi };
  const base = binOf(lo);
  const bins = new Float64Array(binOf(hi) - base + 1);
  for (let i = 0; i < length; i++) {
    const v = values[i]!;
    if (v >= lo && v <= hi) bins[binOf(v) - base]!++;
  }
  const cap = Math.max(4, Math.ceil(CAP_SHARE * length));
  const cumulative = new Float64Array(bins.length + 1);
  for (let b = 0; b < bins.length; b++) cumulative[b + 1] = cumulative[b]! + Math.min(bins[b]!, cap);
  return { base, cumulative, lo, hi };
}

/** The count of values in [from, to]. */
function countIn(h: ValueHistogram, from: number, to: number): number {
  const size = h.cumulative.length - 1;
  const a = Math.min(size, Math.max(0, Math.ceil((from + RANGE) / BIN) - h.base));
  const b = Math.min(size, Math.max(0, Math.floor((to + RANGE) / BIN) + 1 - h.base));
  return b > a ? h.cumulative[b]! - h.cumulative[a]! : 0;
}

export interface StepEstimate {
  readonly step: number;
  /** The share of the informative values in the band at `step`: about 1/3 by chance, near 1 for a real step. */
  readonly fraction: number;
  /** The informative values (capped counts): for DC all, for AC those past s/6 (zero's band). */
  readonly count: number;
  /** Distinct multiples of `step` holding at least 2 values in the band. */
  readonly peaks: number;
}

export interface StepSearch {
  /** The smallest step worth reporting: a step within the later compression's noise passes trivially. */
  readonly minStep: number;
  readonly maxStep: number;
  /** DC: every value is informative (DC spreads over the whole range). AC: only those past zero's band. */
  readonly dc: boolean;
  /** The least informative values, and distinct peaks, for a step to count. */
  readonly minCount: number;
  readonly minPeaks: number;
  /** The least share in the band for a step to pass. */
  readonly pass: number;
}

/** The band share, informative count and peaks of `step`. */
function fitOf(h: ValueHistogram, step: number, dc: boolean): StepEstimate {
  const total = h.cumulative[h.cumulative.length - 1]!;
  // AC: the values in zero's band say nothing (most blocks have next to nothing at a given frequency);
  // those just past it do: a multiple of the true step puts the true step's first multiple at its own
  // half, out of the band.
  const zero = step * BAND;
  const count = dc ? total : total - countIn(h, -zero, zero);
  let inBand = 0;
  let peaks = 0;
  const first = Math.ceil((h.lo - step * BAND) / step);
  const last = Math.floor((h.hi + step * BAND) / step);
  for (let n = first; n <= last; n++) {
    if (n === 0 && !dc) continue;
    const c = countIn(h, n * step - step * BAND, n * step + step * BAND);
    inBand += c;
    if (c >= 2) peaks++;
  }
  return { step, fraction: count === 0 ? 0 : inBand / count, count, peaks };
}

/** How well the values sit on the multiples of `step`: the mean cosine of their phase, 1 at best. */
function resultant(h: ValueHistogram, step: number, minAbs: number): number {
  let sum = 0;
  let weight = 0;
  const { cumulative, base } = h;
  for (let b = 0; b < cumulative.length - 1; b++) {
    const c = cumulative[b + 1]! - cumulative[b]!;
    const v = (b + base) * BIN - RANGE;
    if (c === 0 || Math.abs(v) < minAbs) continue;
    sum += c * Math.cos((2 * Math.PI * v) / step);
    weight += c;
  }
  return weight === 0 ? 0 : sum / weight;
}

/** The earlier step of one frequency, or null when the values show none in [minStep, maxStep]. */
export function estimateStep(h: ValueHistogram, search: StepSearch): StepEstimate | null {
  const { minStep, dc, minCount, minPeaks, pass } = search;
  if (!(h.hi >= h.lo)) return null;
  // DC: a step needs `minPeaks` multiples inside the values' range. AC: a step past 6/5 of the largest
  // value has no multiple but zero in reach of the band.
  const reach = dc ? (h.hi - h.lo) / Math.max(1, minPeaks - 1) : 1.2 * Math.max(-h.lo, h.hi);
  const maxStep = Math.min(search.maxStep, Math.floor(reach));
  const passes = (fit: StepEstimate) =>
    fit.count >= minCount && fit.fraction >= pass && fit.peaks >= minPeaks;
  let largest: StepEstimate | undefined;
  for (let s = maxStep; s >= minStep && largest === undefined; s--) {
    const fit = fitOf(h, s, dc);
    if (passes(fit)) largest = fit;
  }
  if (largest === undefined) return null;
  // A step somewhat above the true one still keeps the first multiples in the band: the best fit at or
  // below it that passes too, over the values the largest one found informative (its divisors lie below
  // 3/4 of it).
  const minAbs = dc ? 0 : largest.step * BAND;
  let best = largest;
  let bestResultant = resultant(h, largest.step, minAbs);
  for (let s = largest.step - 1; s >= Math.max(minStep, Math.ceil(0.75 * largest.step)); s--) {
    const r = resultant(h, s, minAbs);
    if (r <= bestResultant) continue;
    const fit = fitOf(h, s, dc);
    if (!passes(fit)) continue;
    best = fit;
    bestResultant = r;
  }
  return best;
}
