/**
 * Back-pressure for restorations: at most `concurrency` run at once, at most `maxQueued` wait, and any
 * more are refused at once (503 + Retry-After) rather than piling up until the function times out.
 * Concurrent requests for the same derivative share one restoration (`singleFlight`), so a burst of cache
 * misses for one image runs the model once.
 */
import { overloaded } from "./errors.js";

export interface Limiter {
  run<T>(task: () => Promise<T>): Promise<T>;
  readonly active: () => number;
  readonly queued: () => number;
}

export function createLimiter({
  concurrency,
  maxQueued,
  retryAfterSeconds = 5,
}: {
  concurrency: number;
  maxQueued: number;
  retryAfterSeconds?: number;
}): Limiter {
  let active = 0;
  const waiting: (() => void)[] = [];
  const release = (): void => {
    const next = waiting.shift();
    if (next === undefined) active -= 1;
    else next(); // the slot passes straight to the next task
  };
  return {
    async run<T>(task: () => Promise<T>): Promise<T> {
      if (active >= concurrency) {
        if (waiting.length >= maxQueued) throw overloaded(retryAfterSeconds);
        await new Promise<void>((resolve) => waiting.push(resolve));
      } else {
        active += 1;
      }
      try {
        return await task();
      } finally {
        release();
      }
    },
    active: () => active,
    queued: () => waiting.length,
  };
}

/** Calls with the same key while one is in flight get the same promise. */
export function singleFlight<T>(): (key: string, task: () => Promise<T>) => Promise<T> {
  const inFlight = new Map<string, Promise<T>>();
  return (key, task) => {
    const existing = inFlight.get(key);
    if (existing !== undefined) return existing;
    const promise = task().finally(() => inFlight.delete(key));
    inFlight.set(key, promise);
    return promise;
  };
}

/**
 * Reads of the same key share one S3 request, but only a request sent after the caller arrived: a call
 * that finds a read in flight waits for the next one, which starts as that one ends and answers every call
 * that arrived meanwhile. Each answer so reflects the object at some moment after its call began, exactly
 * as an unshared read would (no staleness), while N concurrent callers cost about two reads, not N.
 */
export function freshShared<T>(): (key: string, read: () => Promise<T>) => Promise<T> {
  interface Waiting {
    readonly promise: Promise<T>;
    readonly settle: (from: Promise<T>) => void;
  }
  const slots = new Map<string, { waiting?: Waiting }>();
  const start = (key: string, slot: { waiting?: Waiting }, read: () => Promise<T>): Promise<T> => {
    const promise = Promise.resolve().then(read);
    const next = (): void => {
      const waiting = slot.waiting;
      if (waiting === undefined) {
        slots.delete(key);
        return;
      }
      slot.waiting = undefined;
      waiting.settle(start(key, slot, read));
    };
    promise.then(next, next);
    return promise;
  };
  return (key, read) => {
    const slot = slots.get(key);
    if (slot === undefined) {
      const fresh = {};
      slots.set(key, fresh);
      return start(key, fresh, read);
    }
    if (slot.waiting === undefined) {
      let settle!: (from: Promise<T>) => void;
      const promise = new Promise<T>((resolve) => {
        settle = resolve;
      });
      slot.waiting = { promise, settle };
    }
    return slot.waiting.promise;
  };
}
