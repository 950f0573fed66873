/**
 * Deleting derivatives: all of a removed source's, and the stale one beside a newer version that gets
 * none. Only objects unjpeg wrote for that very key are touched, and only while the reason still holds.
 */
import type { Deriver } from "./derive-types.js";
import { allDerivativeKeys, isDerivativeKey } from "./keys.js";
import { parseDerivativeMetadata } from "./metadata.js";
import { deleteObject, headObject, type ObjectHead } from "./s3.js";

export type RemoveOutcome =
  | { readonly action: "deleted"; readonly bucket: string; readonly key: string; readonly deleted: string[] }
  | {
      readonly action: "skipped";
      readonly bucket: string;
      readonly key: string;
      readonly reason: "derivative" | "source-exists";
      readonly message: string;
    };

/**
 * After a source is removed, deletes its derivatives (every format), but only objects unjpeg wrote for this
 * very key, and only if the source is really gone (a re-upload may have overtaken the delete event).
 */
export async function removeDerivatives(
  deriver: Pick<Deriver, "s3" | "config">,
  request: { readonly bucket: string; readonly key: string },
): Promise<RemoveOutcome> {
  const { s3, config } = deriver;
  const { bucket, key } = request;
  if (isDerivativeKey(key, config)) {
    return { action: "skipped", bucket, key, reason: "derivative", message: "the key names a derivative" };
  }
  if ((await headObject(s3, bucket, key)) !== null) {
    return { action: "skipped", bucket, key, reason: "source-exists", message: "the source exists again" };
  }
  const deleted: string[] = [];
  for (const candidate of allDerivativeKeys(key, config)) {
    const head = await headObject(s3, bucket, candidate);
    if (parseDerivativeMetadata(head?.metadata)?.sourceKey !== key) continue;
    await deleteObject(s3, bucket, candidate);
    deleted.push(candidate);
  }
  return { action: "deleted", bucket, key, deleted };
}

/**
 * A newer version of a source was skipped for its content (high quality, corrupt, unsupported, ...): the
 * derivative of an older version beside it is deleted, so nothing restored from the old picture stays next
 * to the new one. Guarded against races: only a derivative unjpeg wrote for this key from another ETag than
 * the skipped one, only while the source still has the skipped ETag (looked at just before), and only that
 * very derivative (If-Match on its ETag). Returns the key deleted, or null when it was kept.
 */
export async function removeStaleDerivative(
  deriver: Pick<Deriver, "s3">,
  request: {
    readonly bucket: string;
    readonly key: string;
    readonly skippedETag: string;
    readonly derivative: ObjectHead;
  },
): Promise<string | null> {
  const { bucket, key, skippedETag, derivative } = request;
  const meta = parseDerivativeMetadata(derivative.metadata);
  if (meta === null || meta.sourceKey !== key || meta.sourceETag === skippedETag) return null;
  const source = await headObject(deriver.s3, bucket, key);
  if (source === null || source.eTag !== skippedETag) return null; // a newer version decides for itself
  const deleted = await deleteObject(deriver.s3, bucket, derivative.key, { ifMatch: derivative.eTag });
  return deleted ? derivative.key : null;
}
