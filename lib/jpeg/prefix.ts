/**
 * The one "read a prefix, decide, read more" loop: headers are answered from the first bytes of a file, and
 * a file whose headers run long (camera EXIF, ICC profiles) is read further only as far as the answer asks.
 * Used by `inspectJpegSource` (files, `unjpeg inspect`) and by the storage core's triage (ranged GETs).
 */

/** Random access to a file's bytes, e.g. a file handle or an S3 object read with ranged GETs. */
export interface ByteSource {
  /** Total size, when known (a stat, a HEAD, or Content-Range). */
  readonly size?: number;
  /** Bytes [start, end); fewer only at the end of the file. */
  read(start: number, end: number): Promise<Uint8Array>;
}

export interface PrefixReadOptions {
  /** The first read, in bytes. */
  readonly firstReadBytes: number;
  /** Read this much beyond what the answer asks for, to save round trips (default 0). */
  readonly readAheadBytes?: number;
  /** Read at least twice as much as before each time (default false). */
  readonly doubling?: boolean;
  /** Stop when an answer needs more than this many bytes (default: no limit). */
  readonly maxBytes?: number;
}

export interface PrefixRead<T> {
  /** The last answer: final, or still asking for more when the file or `maxBytes` ended first. */
  readonly answer: T;
  /** The bytes read, from the start. */
  readonly bytes: Uint8Array;
  /** The bytes the last answer asked for when it went past `maxBytes`; undefined otherwise. */
  readonly wanted: number | undefined;
}

/**
 * Asks `answer` about ever longer prefixes of `source` until it needs no more (`needs` gives undefined),
 * the whole file was read, or the answer needs more than `maxBytes`.
 */
export async function readPrefixUntil<T>(
  source: ByteSource,
  answer: (prefix: Uint8Array, size: number | undefined) => T | Promise<T>,
  needs: (answer: T) => number | undefined,
  options: PrefixReadOptions,
): Promise<PrefixRead<T>> {
  const readAhead = options.readAheadBytes ?? 0;
  const maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
  let size = source.size;
  let bytes: Uint8Array = new Uint8Array(0);
  let want = Math.min(options.firstReadBytes, maxBytes);
  for (;;) {
    const end = size === undefined ? want : Math.min(want, size);
    if (end > bytes.length) {
      const chunk = await source.read(bytes.length, end);
      bytes = bytes.length === 0 ? chunk : concat(bytes, chunk);
      if (bytes.length < end) size = bytes.length; // a short read: the end of the file
    }
    const result = await answer(bytes, size);
    const atLeast = needs(result);
    if (atLeast === undefined || (size !== undefined && bytes.length >= size)) {
      return { answer: result, bytes, wanted: undefined };
    }
    if (atLeast > maxBytes) return { answer: result, bytes, wanted: atLeast };
    const grown = Math.max(atLeast + readAhead, options.doubling === true ? bytes.length * 2 : 0);
    want = Math.min(grown, Math.max(maxBytes, atLeast));
  }
}

function concat(head: Uint8Array, tail: Uint8Array): Uint8Array {
  const out = new Uint8Array(head.length + tail.length);
  out.set(head, 0);
  out.set(tail, head.length);
  return out;
}
