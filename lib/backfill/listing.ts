/**
 * Object sources for a backfill: a paginated listing of `s3://bucket/prefix`, or a manifest file (CSV or
 * S3 Inventory). Pages are fetched one at a time as the loop consumes them, with retries. `listObjects` is
 * the project's one bucket lister (the page and the tests use it too): only it knows how to page portably.
 */
import { ListObjectsCommand, type ListObjectsCommandOutput, type S3Client } from "@aws-sdk/client-s3";
import { UnjpegError } from "../errors.js";
import { normalizeETag } from "../storage/metadata.js";
import { getObjectRange } from "../storage/s3.js";
import { type ListedObject, localManifestObjects, manifestObjects } from "./manifest.js";
import { type RetryOptions, withRetry } from "./retry.js";

export interface S3Location {
  readonly bucket: string;
  readonly prefix: string;
}

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

/**
 * Every object under the prefix, page by page (1,000 keys a request), in key order. ListObjects (V1) with
 * the last key as marker: it pages the same on S3 and on every S3-compatible server, where V2's
 * continuation tokens are not portable (s3rver makes them with DES, which OpenSSL 3 refuses, so any
 * truncated V2 page fails there).
 */
export async function* listObjects(
  s3: S3Client,
  location: S3Location,
  options: { retry?: RetryOptions; signal?: AbortSignal; pageSize?: number } = {},
): AsyncGenerator<ListedObject> {
  let marker: string | undefined;
  for (;;) {
    if (options.signal?.aborted) return;
    let page: ListObjectsCommandOutput;
    try {
      page = await withRetry(
        () =>
          s3.send(
            new ListObjectsCommand({
              Bucket: location.bucket,
              Prefix: location.prefix === "" ? undefined : location.prefix,
              Marker: marker,
              MaxKeys: options.pageSize,
            }),
            { abortSignal: options.signal },
          ),
        { ...options.retry, signal: options.signal },
      );
    } catch (error) {
      // Stopped on purpose (Ctrl-C): the listing just ends; the run reports itself interrupted.
      if (options.signal?.aborted) return;
      const name = (error as { name?: string }).name ?? "Error";
      throw new UnjpegError(
        "BACKFILL_LIST_FAILED",
        `listing s3://${location.bucket}/${location.prefix} failed: ${name}: ${(error as Error).message}`,
        { cause: error, status: 502 },
      );
    }
    const contents = page.Contents ?? [];
    for (const item of contents) {
      if (item.Key === undefined) continue;
      const etag = normalizeETag(item.ETag);
      yield {
        bucket: location.bucket,
        key: item.Key,
        ...(item.Size === undefined ? {} : { size: item.Size }),
        ...(etag === undefined ? {} : { etag }),
        ...(item.LastModified === undefined ? {} : { lastModified: item.LastModified }),
      };
    }
    const last = contents.at(-1)?.Key;
    if (!page.IsTruncated || last === undefined || options.signal?.aborted) return;
    marker = page.NextMarker ?? last;
  }
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
