/**
 * The origin's store bound to S3 through lib/storage: the same client, key naming, staleness rule and
 * "derive one object" core as the upload handler and the backfill, so a derivative the origin writes is
 * the one they would write.
 */
import { GetObjectCommand, type GetObjectCommandOutput } from "@aws-sdk/client-s3";
import { type Config, ConfigError, type OutputFormat } from "../config.js";
import { UnjpegError } from "../errors.js";
import { type BodyStream, ObjectTooLargeError, readBodyLimited } from "../storage/body.js";
import { type DeriveOutcome as CoreOutcome, type Deriver, deriveObject } from "../storage/derive.js";
import {
  derivativeKey,
  isDerivativeKey,
  isUnderSourcePrefixes,
  KeyTooLongError,
  uploadKeyTooLong,
} from "../storage/keys.js";
import { listObjects } from "../storage/listing.js";
import {
  buildDerivativeMetadata,
  hasDerivativeMarker,
  isCurrent,
  normalizeETag,
} from "../storage/metadata.js";
import {
  headObject,
  isS3Timeout,
  putObject,
  type ObjectHead as S3Head,
  StorageError,
  s3TimeoutError,
} from "../storage/s3.js";
import type { PageStore } from "./page-routes.js";
import type { DeriveOutcome, DeriveSkip, ObjectHead, OriginStore, StoredObject } from "./types.js";

/** Skip reasons of the storage core that reach a client as they are; the rest map below. */
const PASSED_THROUGH = new Set<string>([
  "high-quality",
  "not-jpeg",
  "too-large",
  "unsupported",
  "derivative",
  "gone",
  "corrupt",
  "format-limit",
  "superseded",
  "key-taken",
  "key-too-long",
]);

/** Skip reasons that mean another writer stored the derivative: the origin serves theirs. */
const STORED_BY_OTHER: ReadonlySet<string> = new Set(["current", "duplicate", "raced"]);

export function createS3OriginStore(deriver: Deriver, bucket: string): OriginStore {
  const { s3, config } = deriver;
  // A stored derivative may outgrow the source limit (a PNG is several times its JPEG): serve up to 512 MiB.
  const serveLimit = Math.max(config.maxBytes, 512 * 1024 * 1024);
  const toHead = (head: S3Head): ObjectHead => ({
    key: head.key,
    etag: head.eTag ?? "",
    size: head.size,
    contentType: head.contentType,
    metadata: head.metadata,
    ...(head.versionId === undefined ? {} : { versionId: head.versionId }),
  });
  const toS3Head = (head: ObjectHead): S3Head => ({
    key: head.key,
    eTag: head.etag,
    versionId: head.versionId,
    size: head.size,
    contentType: head.contentType,
    metadata: head.metadata,
  });
  /**
   * One GET: headers and metadata now, the body read on demand (a 304 or a stale derivative drops it
   * unread). One request instead of HEAD + GET is what keeps a stored-derivative hit fast.
   */
  const lazyGet = async (key: string): Promise<StoredObject | null> => {
    let response: GetObjectCommandOutput;
    try {
      response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    } catch (error) {
      if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404)
        return null;
      if ((error as { name?: string }).name === "NoSuchKey") return null;
      if (isS3Timeout(error)) throw s3TimeoutError(`GET s3://${bucket}/${key}`, error);
      throw new StorageError(`GET s3://${bucket}/${key} failed: ${String(error)}`, {
        cause: error,
        retryable: true,
      });
    }
    const body = response.Body as BodyStream | undefined;
    const size = response.ContentLength ?? 0;
    return {
      key,
      etag: normalizeETag(response.ETag) ?? "",
      size,
      contentType: response.ContentType,
      metadata: Object.fromEntries(
        Object.entries(response.Metadata ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
      ),
      ...(response.VersionId === undefined ? {} : { versionId: response.VersionId }),
      read: async () => {
        const what = `s3://${bucket}/${key}`;
        try {
          return await readBodyLimited(body, {
            announced: response.ContentLength,
            maxBytes: serveLimit,
            what,
          });
        } catch (error) {
          // Too large is the stored object's fault (no retry helps), a short or long body the transfer's;
          // both are a bad answer from the store (502), not the client's request (413).
          if (error instanceof ObjectTooLargeError)
            throw new StorageError(`${what} is too large to serve`, { cause: error, retryable: false });
          if (error instanceof UnjpegError) throw error;
          if (isS3Timeout(error)) throw s3TimeoutError(`GET ${what} (body)`, error);
          throw new StorageError(`GET ${what} (body) failed: ${String(error)}`, {
            cause: error,
            retryable: true,
          });
        }
      },
      discard: () => body?.destroy?.(),
    };
  };
  const storedAsRestored = async (sourceKey: string, format: OutputFormat): Promise<DeriveOutcome | null> => {
    const [source, stored] = await Promise.all([
      headObject(s3, bucket, sourceKey),
      lazyGet(derivativeKey(sourceKey, format, config)),
    ]);
    if (source === null || stored === null || !isCurrent(toS3Head(stored), source, deriver.model))
      return null;
    return {
      action: "restored",
      derivativeKey: stored.key,
      body: await stored.read(),
      contentType: stored.contentType ?? "application/octet-stream",
      metadata: stored.metadata,
    };
  };

  return {
    headSource: async (key) => {
      const head = await headObject(s3, bucket, key);
      return head === null ? null : toHead(head);
    },
    getDerivative: (sourceKey, format) => lazyGet(derivativeKey(sourceKey, format, config)),
    getObject: lazyGet,
    isDerivativeKey: (key) => isDerivativeKey(key, config),
    isDerivative: (head) => hasDerivativeMarker(head.metadata),
    isCurrent: (derivative, source) => isCurrent(toS3Head(derivative), toS3Head(source), deriver.model),
    async derive(sourceKey, format, signal) {
      const outcome: CoreOutcome = await deriveObject(deriver, { bucket, key: sourceKey, format, signal });
      if (outcome.action === "written") {
        return {
          action: "restored",
          derivativeKey: outcome.derivativeKey,
          body: outcome.output,
          contentType: outcome.contentType,
          metadata: buildDerivativeMetadata({
            sourceKey,
            sourceETag: outcome.sourceETag,
            sourceVersion: undefined,
            quality: outcome.quality,
            model: outcome.model,
            restoreMs: outcome.restoreMs,
            encoding: outcome.encoding,
          }),
          encodeMs: (outcome.timings["search"] ?? 0) + (outcome.timings["encode"] ?? 0),
        };
      }
      if (outcome.action === "skipped" && STORED_BY_OTHER.has(outcome.reason)) {
        // Another writer (the upload handler, a twin request, a won write race) stored it: serve theirs.
        const stored = await storedAsRestored(sourceKey, format);
        if (stored !== null) return stored;
      }
      const reason = outcome.action === "skipped" ? outcome.reason : "other";
      return {
        action: "skipped",
        reason: (PASSED_THROUGH.has(reason) ? reason : "other") as DeriveSkip,
        message: outcome.action === "skipped" ? outcome.message : "not restored",
        quality: outcome.quality,
      };
    },
  };
}

/** The one bucket the origin serves, or a configuration error naming the variable. */
export function requireBucket(config: Config): string {
  if (config.bucket === undefined) throw new ConfigError(["UNJPEG_BUCKET must be set for the CDN origin"]);
  return config.bucket;
}

/** The page's view of the local bucket: list JPEG sources, upload one. */
export function createS3PageStore(
  deriver: Pick<Deriver, "s3" | "config" | "keyLimits">,
  bucket: string,
  origin: OriginStore,
): PageStore {
  const { s3, config } = deriver;
  return {
    async listSources(limit, prefixes) {
      // The project's one lister (V1 markers: pages past 1,000 keys on s3rver too); one try, as the page
      // waits on it. Leaving the loop early stops the listing: no page beyond the one that filled `limit`.
      // Listed by prefix (no listing of keys the page may not show); nested prefixes would list a key twice.
      const found = new Map<string, number>();
      for (const prefix of prefixes.length === 0 ? [""] : prefixes) {
        if (found.size >= limit) break;
        for await (const item of listObjects(s3, { bucket, prefix }, { retry: { attempts: 1 } })) {
          if (
            /\.(jpe?g|jfif)$/i.test(item.key) &&
            !isDerivativeKey(item.key, config) &&
            isUnderSourcePrefixes(item.key, prefixes)
          )
            found.set(item.key, item.size ?? 0);
          if (found.size >= limit) break;
        }
      }
      return [...found].map(([key, size]) => ({ key, size }));
    },
    async putSource(key, body, contentType) {
      // Refused before the write: a key the store cannot hold, or whose derivatives it could not.
      const problem = uploadKeyTooLong(key, config, deriver.keyLimits);
      if (problem !== null) throw new KeyTooLongError(`${problem}; use a shorter file name`);
      await putObject(s3, { bucket, key, body, contentType, cacheControl: "no-cache", metadata: {} });
    },
    getObject: (key) => origin.getObject(key),
    isDerivativeKey: (key) => isDerivativeKey(key, config),
  };
}
