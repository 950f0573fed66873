/** Named steps: each timed (wall and CPU), the caller's AbortSignal checked before each one starts. */
import { RestoreAbortedError } from "./errors.js";

/** Times steps (wall and CPU) into `timings` and `cpu`, checking the signal before each one. */
export function stepper(
  timings: Record<string, number>,
  cpu: Record<string, number>,
  signal: AbortSignal | undefined,
) {
  return async <T>(name: string, run: () => T | Promise<T>): Promise<T> => {
    if (signal?.aborted) throw new RestoreAbortedError(name, signal.reason);
    const start = performance.now();
    const cpuStart = process.cpuUsage();
    try {
      return await run();
    } finally {
      timings[name] = (timings[name] ?? 0) + (performance.now() - start);
      const used = process.cpuUsage(cpuStart);
      cpu[name] = (cpu[name] ?? 0) + (used.user + used.system) / 1000;
    }
  };
}
