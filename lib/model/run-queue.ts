/**
 * The model's run queue: in one process, at most a few restores hold a decoded image and run the model at
 * once; the others wait their turn in arrival order, holding only their compressed bytes. A process shares
 * one set of sessions (lib/model/sessions.ts) and, on a GPU, one pool of accelerator memory, while several
 * invocations may be in flight in it (Lambda Managed Instances, the local stack, the CDN origin, the
 * backfill): without the queue each would hold its image, blend buffers and tile tensors and run the model
 * at the same time, so peak memory would grow with the number in flight. A waiting restore leaves the queue
 * as soon as its own signal fires; the others keep their place.
 */
import { RestoreAbortedError } from "./errors.js";

/**
 * Restores past triage at once in a process, unless configured (UNJPEG_MODEL_CONCURRENCY): two, so that
 * one restore's decode and encode (sharp, on the CPU) overlap the other's model runs, with at most two
 * images' working sets in memory.
 */
export const DEFAULT_MODEL_CONCURRENCY = 2;

export interface RunQueueStats {
  readonly running: number;
  readonly waiting: number;
  /** The most turns held at once since the queue was made (or `resetPeak`). */
  readonly peakRunning: number;
}

export interface RunQueue {
  /**
   * Waits until fewer than `limit` turns are held and every earlier caller has had its turn, then
   * resolves to the function that ends this one (a second call does nothing). Rejects with
   * RestoreAbortedError (`RESTORE_ABORTED`) when `signal` fires first, without taking a turn.
   */
  enter(limit: number, signal?: AbortSignal): Promise<() => void>;
  stats(): RunQueueStats;
  resetPeak(): void;
}

interface Waiter {
  readonly limit: number;
  readonly admit: () => void;
}

export function createRunQueue(): RunQueue {
  let running = 0;
  let peakRunning = 0;
  const waiting: Waiter[] = [];

  const take = (): (() => void) => {
    running++;
    peakRunning = Math.max(peakRunning, running);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      running--;
      admitWaiting();
    };
  };
  // In arrival order: a caller is never overtaken, even by one that would fit under a larger limit.
  const admitWaiting = (): void => {
    while (waiting.length > 0 && running < waiting[0]!.limit) waiting.shift()!.admit();
  };

  return {
    enter(limit, signal) {
      if (!Number.isInteger(limit) || limit < 1) {
        return Promise.reject(new RangeError(`model concurrency must be an integer >= 1, got ${limit}`));
      }
      if (signal?.aborted) return Promise.reject(new RestoreAbortedError("queue", signal.reason));
      if (waiting.length === 0 && running < limit) return Promise.resolve(take());
      return new Promise((resolve, reject) => {
        const onAbort = (): void => {
          const index = waiting.indexOf(waiter);
          if (index < 0) return;
          waiting.splice(index, 1);
          reject(new RestoreAbortedError("queue", signal?.reason));
          admitWaiting(); // the one behind may fit now
        };
        const waiter: Waiter = {
          limit,
          admit: () => {
            signal?.removeEventListener("abort", onAbort);
            resolve(take());
          },
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        waiting.push(waiter);
      });
    },
    stats: () => ({ running, waiting: waiting.length, peakRunning }),
    resetPeak() {
      peakRunning = running;
    },
  };
}

/** The process's queue: every restore in this process takes its turn here (lib/restore/restore.ts). */
export const modelRunQueue: RunQueue = createRunQueue();
