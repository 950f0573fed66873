/**
 * Derivative key naming (docs/CONTRACTS.md) and the URL encoding of keys in S3 event notifications.
 * Pure functions: the upload handler, the CDN origin, the backfill and the queue worker all name and
 * recognise derivatives through this one module.
 */
import type { Config, OutputFormat } from "../config.js";
import { UnjpegError } from "../errors.js";
import { EXTENSIONS } from "../image/formats.js";

export type DerivativeNaming = Pick<Config, "derivativeSuffix" | "derivativePrefix">;

const JPEG_EXTENSIONS = new Set(["jpg", "jpeg", "jpe", "jfif"]);
/** Every extension a derivative can end in, lower case: keys ending `<suffix>.<one of these>` are never sources. */
const DERIVATIVE_EXTENSIONS = new Set([...JPEG_EXTENSIONS, ...Object.values(EXTENSIONS)]);

export interface KeyParts {
  /** Everything up to and including the last `/` ("" at the top level). */
  readonly dir: string;
  /** The file name without its extension. */
  readonly stem: string;
  /** The extension without the dot, as written ("" when there is none). */
  readonly ext: string;
}

/** Splits a key into folder, stem and extension. A leading dot (`.hidden`) is part of the stem. */
export function splitKey(key: string): KeyParts {
  const slash = key.lastIndexOf("/");
  const dir = key.slice(0, slash + 1);
  const name = key.slice(slash + 1);
  const dot = name.lastIndexOf(".");
  if (dot <= 0) return { dir, stem: name, ext: "" };
  return { dir, stem: name.slice(0, dot), ext: name.slice(dot + 1) };
}

/**
 * `<prefix><dir>/<stem><suffix>.<ext>`: `photos/cat.jpg` → `photos/cat.restored.jpg`. A JPEG derivative
 * keeps the source's own JPEG extension (`cat.jpeg` → `cat.restored.jpeg`), so `cat.jpg` and `cat.jpeg`
 * do not share one derivative; other formats use their own extension (`cat.restored.webp`).
 */
export function derivativeKey(sourceKey: string, format: OutputFormat, naming: DerivativeNaming): string {
  const { dir, stem, ext } = splitKey(sourceKey);
  const outExt = format === "jpeg" && JPEG_EXTENSIONS.has(ext.toLowerCase()) ? ext : EXTENSIONS[format];
  return `${naming.derivativePrefix}${dir}${stem}${naming.derivativeSuffix}.${outExt}`;
}

/** The longest key S3 takes, in bytes of UTF-8. */
export const S3_MAX_KEY_BYTES = 1024;

/** What a store takes beyond S3's own limit (the local stack's s3rver: file names on disk). */
export interface KeyLimits {
  /** The longest path segment (between slashes), in bytes of UTF-8; absent: none of its own. */
  readonly maxSegmentBytes?: number;
}

const shorten = (text: string): string => (text.length > 40 ? `${text.slice(0, 40)}...` : text);

/** Why a path segment of `key` is longer than `maxSegmentBytes`, or null when none is. */
function segmentTooLong(key: string, maxSegmentBytes: number): string | null {
  for (const segment of key.split("/")) {
    const bytes = Buffer.byteLength(segment, "utf8");
    if (bytes > maxSegmentBytes)
      return `${shorten(key)} has a path segment of ${bytes} bytes, over this store's limit of ${maxSegmentBytes}`;
  }
  return null;
}

/** Why the store cannot hold `key` (over S3's 1,024 bytes, or a segment over `limits`), or null when it can. */
export function keyTooLong(key: string, limits: KeyLimits = {}): string | null {
  const bytes = Buffer.byteLength(key, "utf8");
  if (bytes > S3_MAX_KEY_BYTES)
    return `${shorten(key)} is ${bytes} bytes, over S3's limit of ${S3_MAX_KEY_BYTES}`;
  return limits.maxSegmentBytes === undefined ? null : segmentTooLong(key, limits.maxSegmentBytes);
}

/** Why the store cannot hold `sourceKey` or the key of one of its derivatives, or null: checked before an upload. */
export function uploadKeyTooLong(
  sourceKey: string,
  naming: DerivativeNaming,
  limits: KeyLimits = {},
): string | null {
  const own = keyTooLong(sourceKey, limits);
  if (own !== null) return `the key ${own}`;
  for (const key of allDerivativeKeys(sourceKey, naming)) {
    const problem = keyTooLong(key, limits);
    if (problem !== null) return `its derivative's key ${problem}`;
  }
  return null;
}

/** A key (or the key its derivative would get) that the store cannot hold, refused before anything is written. */
export class KeyTooLongError extends UnjpegError {
  constructor(message: string) {
    super("KEY_TOO_LONG", message, { status: 400 });
  }
}

/** The keys of every derivative a source can have, one per format (to delete them with the source). */
export function allDerivativeKeys(sourceKey: string, naming: DerivativeNaming): string[] {
  return (Object.keys(EXTENSIONS) as OutputFormat[]).map((format) =>
    derivativeKey(sourceKey, format, naming),
  );
}

/**
 * Whether a key names a derivative by its pattern alone, so that writing one never triggers more work.
 * Matching is generous on purpose (case-insensitive, any output extension): a false "yes" skips one
 * image, a false "no" can loop.
 */
export function isDerivativeKey(key: string, naming: DerivativeNaming): boolean {
  const { derivativeSuffix: suffix, derivativePrefix: prefix } = naming;
  if (suffix === "") return prefix !== "" && key.startsWith(prefix);
  const { stem, ext } = splitKey(key);
  return DERIVATIVE_EXTENSIONS.has(ext.toLowerCase()) && stem.toLowerCase().endsWith(suffix.toLowerCase());
}

export class EventKeyError extends UnjpegError {
  constructor(encoded: string, cause: unknown) {
    super("EVENT_KEY_INVALID", `object key in event is not valid URL encoding: "${encoded}"`, {
      cause,
      status: 400,
    });
  }
}

/**
 * Decodes a key as S3 writes it in event notifications: form-URL-encoded UTF-8, so `+` is a space and
 * a literal `+` arrives as `%2B`.
 */
export function decodeEventKey(encoded: string): string {
  try {
    return decodeURIComponent(encoded.replaceAll("+", " "));
  } catch (error) {
    throw new EventKeyError(encoded, error);
  }
}

/** Encodes a key the way S3 event notifications do (the inverse of `decodeEventKey`; `/` kept). */
export function encodeEventKey(key: string): string {
  return encodeURIComponent(key).replaceAll("%20", "+").replaceAll("%2F", "/");
}

/**
 * `UNJPEG_SOURCE_PREFIXES`: whether a key is one this deployment serves and restores (an empty list: every
 * key). The one rule behind the origin, the page's API and the storage core.
 */
export function isUnderSourcePrefixes(key: string, prefixes: readonly string[]): boolean {
  return prefixes.length === 0 || prefixes.some((prefix) => key.startsWith(prefix));
}
