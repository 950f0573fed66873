/**
 * Signed URLs: `sig` is the hex HMAC-SHA256 of the canonical form of the path and the query without `sig`
 * (docs/CONTRACTS.md). The canonical form makes a signature survive harmless rewrites on the way (a CDN
 * re-encoding `%20`, reordering parameters):
 *
 *   "/" + each path segment, percent-decoded then encodeURIComponent-encoded, joined by "/"
 *   + ("?" + the parameters other than `sig`, sorted by name then value, as encodeURIComponent(name)=
 *      encodeURIComponent(value) joined by "&") when there are any.
 *
 * `expires` (Unix seconds) is optional and, like every other parameter, covered by the signature.
 * The first configured key signs; every key verifies (rotation: add the new key first, drop the old one
 * once cached URLs have aged out).
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { forbidden, type HttpError } from "./errors.js";

const SIG_HEX_LENGTH = 64;

/** `[name, value]` pairs in the order the request gave them. */
export type QueryPairs = readonly (readonly [string, string])[];

export function canonicalPath(decodedKey: string): string {
  return `/${decodedKey.split("/").map(encodeURIComponent).join("/")}`;
}

export function stringToSign(decodedKey: string, query: QueryPairs): string {
  const pairs = query
    .filter(([name]) => name !== "sig")
    .map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`)
    .sort();
  return pairs.length === 0 ? canonicalPath(decodedKey) : `${canonicalPath(decodedKey)}?${pairs.join("&")}`;
}

export function signature(key: string, decodedKey: string, query: QueryPairs): string {
  return createHmac("sha256", key).update(stringToSign(decodedKey, query), "utf8").digest("hex");
}

export interface VerifyInput {
  readonly decodedKey: string;
  readonly query: QueryPairs;
  readonly keys: readonly string[];
  /** Unix seconds. */
  readonly now: number;
}

/**
 * Throws a 403 `HttpError` unless the URL is signed by one of `keys` and not expired. With no keys
 * configured every URL is accepted (signing is off).
 */
export function verifySignature({ decodedKey, query, keys, now }: VerifyInput): void {
  if (keys.length === 0) return;
  const sig = query.find(([name]) => name === "sig")?.[1];
  if (sig === undefined) throw forbidden("SIGNATURE_MISSING", "this URL must be signed (sig parameter)");
  if (sig.length !== SIG_HEX_LENGTH || !/^[0-9a-f]+$/i.test(sig)) throw invalid();
  const given = Buffer.from(sig.toLowerCase(), "hex");
  // Compare against every key without stopping early, so timing does not tell which key (if any) matched.
  let matched = false;
  for (const key of keys) {
    const expected = createHmac("sha256", key).update(stringToSign(decodedKey, query), "utf8").digest();
    if (timingSafeEqual(expected, given)) matched = true;
  }
  if (!matched) throw invalid();
  // Expiry is checked only once the signature holds: an attacker cannot learn anything from it.
  const expires = query.find(([name]) => name === "expires")?.[1];
  if (expires !== undefined && Number(expires) < now) {
    throw forbidden("SIGNATURE_EXPIRED", "this signed URL has expired");
  }
}

const invalid = (): HttpError => forbidden("SIGNATURE_INVALID", "the URL signature does not match");

export interface SignOptions {
  readonly key: string;
  /** Unix seconds; omitted: the URL never expires. */
  readonly expires?: number;
}

/**
 * Signs a URL (absolute, or a path with an optional query): returns it with `expires` (when asked) and `sig`
 * appended, everything else kept as given.
 */
export function signUrl(url: string, { key, expires }: SignOptions): string {
  const absolute = /^[a-z][a-z0-9+.-]*:\/\//i.test(url);
  const parsed = new URL(url, "http://unjpeg.invalid");
  parsed.searchParams.delete("sig");
  if (expires !== undefined) parsed.searchParams.set("expires", String(Math.floor(expires)));
  const decodedKey = decodePathKey(parsed.pathname);
  const sig = signature(key, decodedKey, [...parsed.searchParams.entries()]);
  parsed.searchParams.append("sig", sig);
  return absolute ? parsed.toString() : `${parsed.pathname}${parsed.search}`;
}

/** The object key a path names: leading slash dropped, each segment percent-decoded. */
export function decodePathKey(path: string): string {
  return path
    .replace(/^\//, "")
    .split("/")
    .map((segment) => decodeURIComponent(segment))
    .join("/");
}
