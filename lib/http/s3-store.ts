/**
 * The origin's store bound to S3 through lib/storage: the same client, key naming, staleness rule and
 * "derive one object" core as the upload handler and the backfill, so a derivative the origin writes is
 * the one they would write.
 */
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { type Config, ConfigError, type OutputFormat } from "../config.js";
import { type DeriveOutcome as CoreOutcome, type Deriver, deriveObject } from "../storage/derive.js";
import { derivativeKey, isDerivativeKey } from "../storage/keys.js";
import { buildDerivativeMetadata, hasDerivativeMarker, isCurrent } from "../storage/metadata.js";
import { getObjectRange, headObject, putObject, type ObjectHead as S3Head } from "../storage/s3.js";
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
  "superseded",
  "key-taken",
]);

export function createS3OriginStore(deriver: Deriver, bucket: string): OriginStore {
  const { s3, config } = deriver;
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
  /** HEAD now, body on demand: a 304 or a stale derivative costs no body transfer. */
  const lazyGet = async (key: string): Promise<StoredObject | null> => {
    const head = await headObject(s3, bucket, key);
    if (head === null) return null;
    return {
      ...toHead(head),
      read: async () => {
        const body = await getObjectRange(s3, bucket, key, {
          start: 0,
          eTag: head.eTag,
          maxBytes: Math.max(head.size, config.maxBytes),
        });
        if (body === null) throw new Error(`s3://${bucket}/${key} vanished while being served`);
        return body;
      },
      discard: () => {},
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
          }),
        };
      }
      if (outcome.action === "skipped" && (outcome.reason === "current" || outcome.reason === "duplicate")) {
        // Another writer (the upload handler, a twin request) stored it meanwhile: serve theirs.
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
  deriver: Pick<Deriver, "s3" | "config">,
  bucket: string,
  origin: OriginStore,
): PageStore {
  const { s3, config } = deriver;
  return {
    async listSources(limit) {
      const found: { key: string; size: number }[] = [];
      let token: string | undefined;
      do {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
        for (const item of page.Contents ?? []) {
          const key = item.Key ?? "";
          if (/\.(jpe?g|jfif)$/i.test(key) && !isDerivativeKey(key, config))
            found.push({ key, size: item.Size ?? 0 });
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token !== undefined && found.length < limit);
      return found.slice(0, limit);
    },
    async putSource(key, body, contentType) {
      await putObject(s3, { bucket, key, body, contentType, cacheControl: "no-cache", metadata: {} });
    },
    getObject: (key) => origin.getObject(key),
    isDerivativeKey: (key) => isDerivativeKey(key, config),
  };
}
