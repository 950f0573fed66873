/**
 * Cache and validation headers. Success is cached long (the CDN is the cache, the origin restores once);
 * errors briefly, so a fixed object or a passing overload is seen soon.
 */
import { createHash } from "node:crypto";

export const CACHE_SUCCESS = "public, max-age=31536000";
/** The original served while its restoration is pending: soon replaced by the restored image. */
export const CACHE_PENDING = "public, max-age=60";
/** Client errors that stay true until someone changes the bucket (404, 413, 415, 400). */
export const CACHE_CLIENT_ERROR = "public, max-age=60";
/** Signature failures, overload and server errors: never cached. */
export const CACHE_NONE = "no-store";

export function cacheControlForStatus(status: number): string {
  if (status < 400) return CACHE_SUCCESS;
  if (status === 403 || status >= 500) return CACHE_NONE;
  return CACHE_CLIENT_ERROR;
}

/**
 * A strong ETag for one representation: derived from what determines its bytes (the stored object's own
 * ETag and the output variant), so a 304 can be answered from HEAD/metadata without reading the body.
 */
export function representationEtag(parts: readonly (string | number | undefined)[]): string {
  const hash = createHash("sha256")
    .update(parts.map((part) => String(part ?? "")).join("\u0000"))
    .digest("base64url");
  return `"${hash.slice(0, 27)}"`;
}

/** RFC 9110 If-None-Match: `*`, or a list of (possibly weak) tags compared weakly. */
export function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const tags = header.split(",").map((tag) => tag.trim());
  if (tags.includes("*")) return true;
  const strip = (tag: string): string => tag.replace(/^W\//, "");
  return tags.some((tag) => strip(tag) === strip(etag));
}
