/**
 * Object sources for a backfill: a paginated listing of `s3://bucket/prefix` (`listObjects` in
 * lib/storage/listing.ts, the project's one bucket lister), or a manifest file (CSV or S3 Inventory).
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { UnjpegError } from "../errors.js";
import type { S3Location } from "../storage/listing.js";
import { type RetryOptions, withRetry } from "../storage/retry.js";
import { getObjectRange } from "../storage/s3.js";
import { type ListedObject, localManifestObjects, manifestObjects } from "./manifest.js";

export type { S3Location } from "../storage/listing.js";

/** `s3://bucket/prefix` (prefix optional). */
export function parseS3Url(text: string): S3Location {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(text);
  if (match === null || match[1] === "") {
    throw new UnjpegError("BACKFILL_BAD_SOURCE", `expected s3://bucket/prefix, got "${text}"`, {
      status: 400,
    });
  }
  return { bucket: match[1]!, prefix: match[2]! };
}

/** The objects a manifest names: a local file, or `s3://bucket/key`. Inventory data files come from S3. */
export async function* manifestSource(
  s3: S3Client,
  manifest: string,
  options: { retry?: RetryOptions; signal?: AbortSignal } = {},
): AsyncGenerator<ListedObject> {
  const readS3 = async (bucket: string, key: string): Promise<Uint8Array> => {
    const body = await withRetry(() => getObjectRange(s3, bucket, key, { start: 0, maxBytes: 2 ** 31 - 1 }), {
      ...options.retry,
      signal: options.signal,
    });
    if (body === null) {
      throw new UnjpegError("BACKFILL_BAD_MANIFEST", `manifest file s3://${bucket}/${key} does not exist`, {
        status: 400,
      });
    }
    return body;
  };
  if (!manifest.startsWith("s3://")) {
    yield* localManifestObjects(manifest, readS3);
    return;
  }
  const where = parseS3Url(manifest);
  yield* manifestObjects(await readS3(where.bucket, where.prefix), manifest, readS3);
}
