/** Named steps: each timed (wall and CPU), the caller's AbortSignal checked before each one starts. */
import { RestoreAbortedError } from "../model/errors.js";
import { processCpuMs } from "../model/thread-cpu.js";

/** Runs a named step, timed; `record` adds a step measured elsewhere (a model run in the model worker). */
export interface Stepper {
  <T>(name: string, run: () => T | Promise<T>): Promise<T>;
  record(name: string, wallMs: number, cpuMs: number): void;
  /** Throws RestoreAbortedError when the signal has fired (before a step measured elsewhere starts). */
  check(name: string): void;
}

/**
 * Times steps (wall and CPU) into `timings` and `cpu`, checking the signal before each one. `cpuClock`
 * (ms) defaults to the whole process's CPU time; steps that overlap model runs in the model worker use
 * the calling thread's own (lib/model/thread-cpu.ts).
 */
export function stepper(
  timings: Record<string, number>,
  cpu: Record<string, number>,
  signal: AbortSignal | undefined,
  cpuClock: () => number = processCpuMs,
): Stepper {
  const record = (name: string, wallMs: number, cpuMs: number): void => {
    timings[name] = (timings[name] ?? 0) + wallMs;
    cpu[name] = (cpu[name] ?? 0) + cpuMs;
  };
  const check = (name: string): void => {
    if (signal?.aborted) throw new RestoreAbortedError(name, signal.reason);
  };
  const step = async <T>(name: string, run: () => T | Promise<T>): Promise<T> => {
    check(name);
    const start = performance.now();
    const cpuStart = cpuClock();
    try {
      return await run();
    } finally {
      record(name, performance.now() - start, cpuClock() - cpuStart);
    }
  };
  return Object.assign(step, { record, check });
}
