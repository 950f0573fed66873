/**
 * glibc malloc settings that keep freed memory for the next image. Touching fresh memory is slow on
 * Firecracker VMs (Lambda's, and these machines: ~13 µs a page), and a restore allocates and frees large
 * blocks per image: sharp's decoded pixels, and libjpeg's whole-image coefficient buffers, which
 * optimised Huffman tables need. With glibc's defaults those come from fresh mappings every time (12 MP:
 * ~40k page faults, ~0.5 s); with these, from one heap that keeps its high-water mark: one arena, no
 * separate mappings for large blocks, no trimming (bench/restore.ts prints the figures).
 * glibc reads them once, at process start, so they travel in the environment: serverless.yml sets them
 * for every function, and the CLI re-executes itself with them (lib/cli/main.ts). Other allocators (musl)
 * ignore the variable.
 */
import { spawn } from "node:child_process";
import { constants } from "node:os";

export const ALLOCATOR_TUNABLES =
  "glibc.malloc.trim_threshold=4294967295:glibc.malloc.mmap_max=0:glibc.malloc.arena_max=1";

/**
 * The environment to re-execute with, or undefined when this process should run as it is: not on Linux,
 * or `GLIBC_TUNABLES` already set by anyone (even empty: that is how a user keeps glibc's defaults).
 */
export function tunedEnvironment(
  env: NodeJS.ProcessEnv,
  platform: NodeJS.Platform = process.platform,
): NodeJS.ProcessEnv | undefined {
  if (platform !== "linux" || env["GLIBC_TUNABLES"] !== undefined) return undefined;
  return { ...env, GLIBC_TUNABLES: ALLOCATOR_TUNABLES };
}

/**
 * Runs this same script again, with the same Node flags and arguments, in `env`, its stdio this
 * process's; resolves with its exit code (128 + the signal number when a signal ended it). SIGTERM and
 * SIGHUP sent to this process are passed on. SIGINT is not: Ctrl-C reaches the whole foreground process
 * group, the child included, and a second one would mean "quit now" to the commands that stop gracefully.
 */
export function reexecute(env: NodeJS.ProcessEnv): Promise<number> {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    env,
    stdio: "inherit",
  });
  const handlers = [
    ["SIGINT", () => undefined],
    ["SIGTERM", () => child.kill("SIGTERM")],
    ["SIGHUP", () => child.kill("SIGHUP")],
  ] as const;
  for (const [signal, handler] of handlers) process.on(signal, handler);
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      for (const [s, handler] of handlers) process.off(s, handler);
      resolve(code ?? 128 + (signal !== null ? (constants.signals[signal] ?? 0) : 0));
    });
  });
}
