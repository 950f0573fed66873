/**
 * glibc malloc settings that keep freed memory for the next image. Touching fresh memory is slow on
 * Firecracker VMs (Lambda's, and these machines: ~13 µs a page), and a restore allocates and frees large
 * blocks per image: sharp's decoded pixels, and libjpeg's whole-image coefficient buffers, which
 * optimised Huffman tables need. With glibc's defaults those come from fresh mappings every time (12 MP:
 * ~40k page faults, ~0.5 s); with these, from one heap that keeps its high-water mark: one arena, no
 * separate mappings for large blocks, no trimming (bench/restore.ts prints the figures).
 * glibc reads them once, at process start, so they travel in the environment: serverless.yml sets them
 * for every function, container/Dockerfile for both images, bin/unjpeg before it starts node (the CLI,
 * `npm run unjpeg`, `npm start`); tests check that each has this string. Other allocators (musl) ignore
 * the variable.
 */
export const ALLOCATOR_TUNABLES =
  "glibc.malloc.trim_threshold=4294967295:glibc.malloc.mmap_max=0:glibc.malloc.arena_max=1";

/**
 * The environment for a child process that restores images (bench/restore.ts), or undefined when `env`
 * already decides: not on Linux, or `GLIBC_TUNABLES` set by anyone (even empty: that is how a user keeps
 * glibc's defaults).
 */
export function tunedEnvironment(
  env: NodeJS.ProcessEnv,
  platform: NodeJS.Platform = process.platform,
): NodeJS.ProcessEnv | undefined {
  if (platform !== "linux" || env["GLIBC_TUNABLES"] !== undefined) return undefined;
  return { ...env, GLIBC_TUNABLES: ALLOCATOR_TUNABLES };
}
