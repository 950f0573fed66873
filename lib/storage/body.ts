/**
 * Reading an S3 response body under a byte limit. The limit is enforced twice: on the announced length
 * before a single byte is read, and on the bytes as they arrive (a missing or lying Content-Length), so a
 * 2 GB object costs at most the limit plus one network chunk, never its whole size. On refusal the body is
 * destroyed, which closes the connection instead of draining it.
 */
import { UnjpegError } from "../errors.js";

/** An object larger than the caller accepts; nothing beyond the limit was read. Not retryable. */
export class ObjectTooLargeError extends UnjpegError {
  readonly limit: number;
  /** The length the server announced, when it did. */
  readonly announced: number | undefined;
  /** Body bytes read before refusing (0 when the announced length alone was enough). */
  readonly bytesRead: number;
  constructor(what: string, details: { limit: number; announced?: number; bytesRead: number }) {
    const size =
      details.announced !== undefined
        ? `is ${details.announced} bytes`
        : `is longer than ${details.limit} bytes (refused after ${details.bytesRead})`;
    super("OBJECT_TOO_LARGE", `${what} ${size}, over the limit of ${details.limit}`, {
      status: 413,
      publicMessage: "the object is too large",
    });
    this.limit = details.limit;
    this.announced = details.announced;
    this.bytesRead = details.bytesRead;
  }
}

/** The body shapes the SDK gives in Node: an IncomingMessage (async iterable, destroyable). */
export type BodyStream = AsyncIterable<Uint8Array> & { destroy?: (error?: Error) => void };

export interface BodyLimits {
  /** Content-Length as announced; a body that ends before it, or runs past it, is an error. */
  readonly announced: number | undefined;
  /** Most bytes accepted. */
  readonly maxBytes: number;
  /** Names the object in errors (`s3://bucket/key`). */
  readonly what: string;
}

/**
 * Reads the whole body into one buffer of at most `maxBytes`. With an announced length the buffer is
 * allocated once at that size; without one, chunks are kept until the end (still never above the limit).
 */
export async function readBodyLimited(body: BodyStream | undefined, limits: BodyLimits): Promise<Uint8Array> {
  const { announced, maxBytes, what } = limits;
  if (announced !== undefined && announced > maxBytes) {
    body?.destroy?.();
    throw new ObjectTooLargeError(what, { limit: maxBytes, announced, bytesRead: 0 });
  }
  if (body === undefined) return new Uint8Array(announced ?? 0);
  const chunks: Uint8Array[] = [];
  const out = announced === undefined ? undefined : new Uint8Array(announced);
  let offset = 0;
  try {
    for await (const chunk of body) {
      if (offset + chunk.byteLength > maxBytes) {
        throw new ObjectTooLargeError(what, { limit: maxBytes, bytesRead: offset + chunk.byteLength });
      }
      if (out !== undefined) {
        if (offset + chunk.byteLength > out.byteLength) {
          throw new Error(`${what}: body longer than its Content-Length ${out.byteLength}`);
        }
        out.set(chunk, offset);
      } else {
        chunks.push(chunk);
      }
      offset += chunk.byteLength;
    }
  } catch (error) {
    // Stop the transfer here: leaving the loop early must not let the socket go on receiving.
    body.destroy?.();
    throw error;
  }
  if (out !== undefined) {
    if (offset !== out.byteLength)
      throw new Error(`${what}: body ended after ${offset} of ${out.byteLength} bytes`);
    return out;
  }
  return joinChunks(chunks, offset);
}

function joinChunks(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}
