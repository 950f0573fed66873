/**
 * Retrying temporary failures (failure.ts decides which) with capped, jittered exponential backoff. Generic
 * (it lives in lib/storage so the bucket lister can use it without depending on lib/backfill); used by the
 * lister, the backfill and `unjpeg enqueue`.
 */
import { type ClassifiedFailure, classifyFailure } from "./failure.js";

export interface RetryOptions {
  /** Attempts in all, the first included (default 5). */
  readonly attempts?: number;
  /** First backoff ceiling in ms (default 200); doubles each retry. */
  readonly baseMs?: number;
  /** Largest backoff in ms (default 20,000). */
  readonly maxMs?: number;
  readonly signal?: AbortSignal;
  /** Called before each wait; for logs and counters. */
  readonly onRetry?: (failure: ClassifiedFailure, attempt: number, delayMs: number) => void;
  /** For tests: the random source in [0, 1) and the sleep. */
  readonly random?: () => number;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** "Full jitter": a uniform wait in [0, min(max, base·2^retry)), which spreads a thundering herd. */
export function backoffDelay(retry: number, baseMs: number, maxMs: number, random: () => number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** retry);
  return Math.floor(random() * ceiling);
}

/** Runs `fn`, retrying temporary failures; rethrows the last error (permanent ones at once). */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const attempts = options.attempts ?? 5;
  const random = options.random ?? Math.random;
  const sleep = options.sleep ?? abortableSleep;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (error) {
      const failure = classifyFailure(error);
      if (failure.kind === "permanent" || attempt >= attempts || options.signal?.aborted) throw error;
      const delay = backoffDelay(attempt - 1, options.baseMs ?? 200, options.maxMs ?? 20_000, random);
      options.onRetry?.(failure, attempt, delay);
      await sleep(delay, options.signal);
    }
  }
}

export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
