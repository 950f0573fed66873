/**
 * The project's one bucket lister (the backfill, the queue's enqueue, the page and the tests use it): only
 * it knows how to page portably across S3 and S3-compatible servers.
 */
import { ListObjectsCommand, type ListObjectsCommandOutput, type S3Client } from "@aws-sdk/client-s3";
import { UnjpegError } from "../errors.js";
import { normalizeETag } from "./metadata.js";
import { type RetryOptions, withRetry } from "./retry.js";
import { isS3Timeout, StorageError, s3TimeoutError } from "./s3-errors.js";

/** One object to consider: from a listing, an inventory manifest or a Batch Operations task. */
export interface ListedObject {
  readonly bucket: string;
  readonly key: string;
  readonly versionId?: string;
  readonly size?: number;
  readonly etag?: string;
  readonly lastModified?: Date;
}

export interface S3Location {
  readonly bucket: string;
  readonly prefix: string;
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
  const where = `s3://${location.bucket}/${location.prefix}`;
  let marker: string | undefined;
  for (;;) {
    if (options.signal?.aborted) return;
    let page: ListObjectsCommandOutput;
    try {
      page = await withRetry(
        () =>
          s3
            .send(
              new ListObjectsCommand({
                Bucket: location.bucket,
                Prefix: location.prefix === "" ? undefined : location.prefix,
                Marker: marker,
                MaxKeys: options.pageSize,
              }),
              { abortSignal: options.signal },
            )
            .catch((error: unknown) => {
              throw isS3Timeout(error) ? s3TimeoutError(`listing ${where}`, error) : error;
            }),
        { ...options.retry, signal: options.signal },
      );
    } catch (error) {
      // Stopped on purpose (Ctrl-C): the listing just ends; the run reports itself interrupted.
      if (options.signal?.aborted) return;
      if (error instanceof StorageError) throw error;
      const name = (error as { name?: string }).name ?? "Error";
      throw new UnjpegError(
        "BACKFILL_LIST_FAILED",
        `listing ${where} failed: ${name}: ${(error as Error).message}`,
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
