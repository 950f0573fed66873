/**
 * Reading one version of a source object: ranged GETs pinned to its ETag, counted, and the header triage
 * built on them (the one prefix loop, lib/jpeg/prefix.ts, asking the restore's own `decide`). A read that
 * fails because the object was replaced midway is `SourceChangedError`, as on S3 (412) so on servers that
 * ignore If-Match (s3rver: an aborted body, `InvalidRange`): the object is looked at again, and a changed
 * ETag means superseded, not failed.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { type ByteSource, readPrefixUntil } from "../jpeg/prefix.js";
import type { RestoreOptions, TriageDecision } from "../restore/types.js";
import type { DecideFunction, HeaderTriage } from "./derive-types.js";
import { getObjectRange, headObject, SourceChangedError } from "./s3.js";

/** Bytes read for triage first (most JPEG headers fit; camera EXIF or an ICC profile may ask for more). */
export const HEADER_BYTES = 64 * 1024;

export interface SourceVersion {
  readonly bucket: string;
  readonly key: string;
  /** Without quotes; undefined: whatever the object is now (not pinned). */
  readonly eTag: string | undefined;
  readonly size: number;
}

/** A ByteSource over one version of an S3 object, counting what it reads. */
export interface SourceReader extends ByteSource {
  bytesRead(): number;
}

export function sourceReader(s3: S3Client, version: SourceVersion, signal?: AbortSignal): SourceReader {
  const { bucket, key, eTag, size } = version;
  let bytesRead = 0;
  return {
    size,
    bytesRead: () => bytesRead,
    async read(start, end) {
      signal?.throwIfAborted();
      let bytes: Uint8Array | null;
      try {
        bytes = await getObjectRange(s3, bucket, key, {
          start,
          end: Math.min(end, size) - 1,
          eTag,
          maxBytes: size - start,
        });
      } catch (error) {
        if (error instanceof SourceChangedError || signal?.aborted) throw error;
        if (eTag !== undefined && (await changedSince(s3, bucket, key, eTag))) {
          throw new SourceChangedError(bucket, key);
        }
        throw error;
      }
      if (bytes === null) throw new SourceChangedError(bucket, key);
      bytesRead += bytes.byteLength;
      return bytes;
    },
  };
}

/** Whether the object is gone or has another ETag now; a failing look says nothing (false). */
async function changedSince(s3: S3Client, bucket: string, key: string, eTag: string): Promise<boolean> {
  try {
    const now = await headObject(s3, bucket, key);
    return now === null || now.eTag !== eTag;
  } catch {
    return false;
  }
}

/**
 * Triage of a source version from its first bytes: the restore's own `decide`, asked again with more
 * bytes only when the headers run past what was read (at most `maxBytes`). `undefined`: no answer within
 * `maxBytes`. Throws SourceChangedError when the version is no longer the object's.
 */
export async function triageSource(
  reader: SourceReader,
  decide: DecideFunction,
  options: RestoreOptions,
  read: { readonly firstBytes?: number; readonly maxBytes?: number; readonly eTag: string | undefined },
): Promise<HeaderTriage | undefined> {
  const size = reader.size ?? 0;
  const prefix = await readPrefixUntil(
    reader,
    (bytes) => decide(bytes, { ...options, totalBytes: size }),
    (decision: TriageDecision) => (decision.action === "need-more-bytes" ? decision.atLeast : undefined),
    {
      firstReadBytes: Math.min(read.firstBytes ?? HEADER_BYTES, size),
      doubling: true,
      ...(read.maxBytes === undefined ? {} : { maxBytes: read.maxBytes }),
    },
  );
  if (prefix.wanted !== undefined) return undefined;
  return { eTag: read.eTag, input: prefix.bytes, decision: prefix.answer };
}

/** The rest of a source after the prefix already read, into one buffer of its whole size. */
export async function readRest(reader: SourceReader, prefix: Uint8Array): Promise<Uint8Array> {
  const size = reader.size ?? prefix.byteLength;
  if (prefix.byteLength >= size) return prefix.subarray(0, size);
  const rest = await reader.read(prefix.byteLength, size);
  const whole = new Uint8Array(size);
  whole.set(prefix, 0);
  whole.set(rest.subarray(0, size - prefix.byteLength), prefix.byteLength);
  return whole;
}
