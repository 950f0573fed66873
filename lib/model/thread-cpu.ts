/**
 * CPU time of single threads, from Linux's /proc/<pid>/task/<tid>/schedstat (nanoseconds on the CPU).
 * With the model in a worker thread, process-wide CPU time no longer tells model runs from the JavaScript
 * work that overlaps them; per-thread time does. Where /proc is not there, callers fall back to
 * process.cpuUsage() (and overlapping steps then share their CPU time).
 */
import { readdirSync, readFileSync } from "node:fs";

function readNs(path: string): number | null {
  try {
    const ns = Number(readFileSync(path, "latin1").split(" ", 1)[0]);
    return Number.isFinite(ns) ? ns : null;
  } catch {
    return null;
  }
}

/** The calling thread's CPU milliseconds, or null where schedstat cannot be read. */
export function ownThreadCpuMs(): number | null {
  const ns = readNs("/proc/thread-self/schedstat");
  return ns === null ? null : ns / 1e6;
}

let available: boolean | undefined;

/** Whether per-thread CPU time can be read here. */
export function hasThreadCpu(): boolean {
  available ??= ownThreadCpuMs() !== null;
  return available;
}

/** Summed CPU milliseconds of these threads of this process (a thread that ended counts 0), or null. */
export function threadsCpuMs(tids: readonly number[]): number | null {
  if (!hasThreadCpu()) return null;
  let total = 0;
  for (const tid of tids) total += readNs(`/proc/self/task/${tid}/schedstat`) ?? 0;
  return total / 1e6;
}

/** The thread ids of this process now (empty where /proc is not there). */
export function listThreads(): number[] {
  try {
    return readdirSync("/proc/self/task").map(Number);
  } catch {
    return [];
  }
}

/** Process CPU milliseconds (every thread). */
export function processCpuMs(): number {
  const used = process.cpuUsage();
  return (used.user + used.system) / 1000;
}

/** A CPU clock for the calling thread alone where the system has one, else the whole process's. */
export function threadClock(): () => number {
  return hasThreadCpu() ? () => ownThreadCpuMs() ?? 0 : processCpuMs;
}
