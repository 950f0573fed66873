/**
 * How long a restore will take, guessed from the image's pixel count before it starts, so that a restore
 * that cannot finish before the answer is due is handed off at once instead of after the whole wait.
 * Restore time is modelled as a fixed cost plus a cost per megapixel; the per-megapixel part is learnt
 * per process from the restores this process completes (an exponentially weighted mean), because the
 * machine (Lambda memory size, cores shared with other work) decides it more than the image does.
 */
import type { TriageDecision } from "../restore/types.js";

export interface RestoreRate {
  /** Cost of any restore whatever its size: session call overhead, decode/encode set-up (ms). */
  readonly fixedMs: number;
  /** Cost per megapixel on top of that (ms). */
  readonly msPerMegapixel: number;
}

/**
 * Before this process has completed a restore. From README's measured CPU speed of the shipped model
 * (`bench/restore.ts --sizes 1,4,12`, 2 threads on 2 cores, idle): 0.84 s wall at 1 MP (1.2 MP/s) and
 * 4.2 s at 12 MP (2.9 MP/s), a line through both: 0.305 s per MP plus 0.54 s. Conservative for the
 * deployed origin, which has 10 GB (about 5.8 vCPUs), not 2 cores; the first run of a container also
 * pays page faults, which the safety margin below covers.
 */
export const SEEDED_RATE: RestoreRate = Object.freeze({ fixedMs: 540, msPerMegapixel: 305 });

/** Estimates are multiplied by this before comparing with the time left: S3 reads and writes, variance. */
export const SAFETY_FACTOR = 1.5;

/** Weight of the newest restore in the mean: a few restores move it, one odd one does not decide it. */
export const RATE_WEIGHT = 0.3;

/**
 * Restores below this many pixels are mostly fixed cost and timer noise: they say little about the
 * per-megapixel cost, so they do not update it.
 */
export const MIN_LEARNING_PIXELS = 250_000;

/** Estimated milliseconds to restore an image of `pixels` at `rate`. */
export function estimateRestoreMs(pixels: number, rate: RestoreRate): number {
  return rate.fixedMs + (Math.max(0, pixels) / 1e6) * rate.msPerMegapixel;
}

/**
 * The rate after a restore of `pixels` took `ms` (measured end to end): the per-megapixel cost moves
 * towards what this restore showed (its time beyond the fixed cost, per megapixel); small or
 * unmeasurable restores leave the rate as it was.
 */
export function observeRestore(
  rate: RestoreRate,
  pixels: number,
  ms: number,
  weight: number = RATE_WEIGHT,
): RestoreRate {
  if (!(pixels >= MIN_LEARNING_PIXELS) || !Number.isFinite(ms) || ms < 0) return rate;
  const observed = Math.max(0, ms - rate.fixedMs) / (pixels / 1e6);
  return {
    fixedMs: rate.fixedMs,
    msPerMegapixel: rate.msPerMegapixel + weight * (observed - rate.msPerMegapixel),
  };
}

/**
 * Whether a restore estimated at `estimateMs` is worth starting with `budgetMs` left before the answer
 * is due: false hands it off at once. An infinite budget (no deadline) always starts it.
 */
export function fitsBudget(estimateMs: number, budgetMs: number, safety: number = SAFETY_FACTOR): boolean {
  if (budgetMs === Number.POSITIVE_INFINITY) return true;
  return estimateMs * safety <= budgetMs;
}

/**
 * From the restore's triage (lib/restore's decide on the source's headers): the pixels it would run on,
 * and its estimate when it would not finish in `waitMs` (then it is handed off without starting). Empty
 * when the triage says no restore would run or gave no answer: the restore itself then decides.
 */
export function judgeRestore(
  triage: TriageDecision | null,
  rate: RestoreRate,
  waitMs: number,
): { pixels?: number; estimatedMs?: number } {
  if (triage?.action !== "restore") return {};
  const pixels = triage.width * triage.height;
  const estimatedMs = estimateRestoreMs(pixels, rate);
  return fitsBudget(estimatedMs, waitMs) ? { pixels } : { pixels, estimatedMs };
}
