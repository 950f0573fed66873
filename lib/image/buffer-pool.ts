/**
 * Large buffers kept between restores. Fresh memory is slow to touch (every page faults and is zeroed:
 * a 1024×896 tile's tensor took a median 48 ms into a new array against 7 ms into a used one, on 2 shared
 * cores), so the pipeline takes its tensor, band and output buffers from here and gives them back when it
 * is done. Concurrent restores each take their own. At most `MAX_POOLED_BYTES` are kept; a buffer may be
 * longer than asked for, and holds whatever its last user left in it.
 */

/** Enough for every buffer of one 12 MP restore (output 36 MB, tile tensor 12.6 MB, bands ~14 MB) and more. */
export const MAX_POOLED_BYTES = 160 * 2 ** 20;

const free: ArrayBuffer[] = [];
let pooledBytes = 0;

/** The smallest pooled buffer of at least `bytes`, or a new one. */
export function takeBuffer(bytes: number): ArrayBuffer {
  let best = -1;
  for (let k = 0; k < free.length; k++) {
    const length = free[k]!.byteLength;
    if (length >= bytes && (best < 0 || length < free[best]!.byteLength)) best = k;
  }
  if (best < 0) return new ArrayBuffer(bytes);
  const [buffer] = free.splice(best, 1);
  pooledBytes -= buffer!.byteLength;
  return buffer!;
}

/** Hands a buffer back for reuse (none of its views may be used after this). Over the cap, the smallest go. */
export function giveBack(buffer: ArrayBufferLike): void {
  if (!(buffer instanceof ArrayBuffer) || buffer.byteLength === 0 || free.includes(buffer)) return;
  if (buffer.byteLength > MAX_POOLED_BYTES) return;
  free.push(buffer);
  pooledBytes += buffer.byteLength;
  free.sort((a, b) => b.byteLength - a.byteLength);
  while (pooledBytes > MAX_POOLED_BYTES) pooledBytes -= free.pop()!.byteLength;
}

/** Bytes the pool holds now (tests). */
export function pooledByteCount(): number {
  return pooledBytes;
}
