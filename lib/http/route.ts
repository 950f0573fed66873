/**
 * Routing and parameter parsing of origin requests: pure functions from a path and a query string to what
 * was asked, or a 4xx `HttpError`. Reserved paths start with `/_unjpeg/` (docs/CONTRACTS.md).
 */
import { isOutputFormat, OUTPUT_FORMATS, type OutputFormat } from "../config.js";
import { isUnderSourcePrefixes } from "../storage/keys.js";
import { badRequest, forbidden, notFound } from "./errors.js";
import type { QueryPairs } from "./signing.js";

export const RESERVED_PREFIX = "/_unjpeg/";
/** S3 allows 1024 bytes of key. */
const MAX_KEY_BYTES = 1024;
const IMAGE_PARAMETERS = new Set(["format", "quality", "expires", "sig"]);

export type RequestedFormat = OutputFormat | "auto";

export interface ImageRequest {
  readonly kind: "image";
  /** The decoded S3 key. */
  readonly key: string;
  /** Absent: the configured default format. */
  readonly format: RequestedFormat | undefined;
  /** Output encoding quality 1..100; absent: the derivative as stored. */
  readonly quality: number | undefined;
  readonly query: QueryPairs;
}

export type Route =
  | ImageRequest
  | { readonly kind: "redirect"; readonly location: string }
  | { readonly kind: "health" }
  | { readonly kind: "page"; readonly asset: string }
  | { readonly kind: "api"; readonly endpoint: string; readonly query: QueryPairs };

export function parseQuery(rawQuery: string): QueryPairs {
  if (rawQuery === "") return [];
  try {
    return [...new URLSearchParams(rawQuery).entries()];
  } catch (cause) {
    throw badRequest("BAD_QUERY", `cannot parse the query string: ${String(cause)}`);
  }
}

export function route(rawPath: string, rawQuery: string): Route {
  const query = parseQuery(rawQuery);
  if (rawPath === "/" || rawPath === "") return { kind: "redirect", location: RESERVED_PREFIX };
  if (rawPath === RESERVED_PREFIX.slice(0, -1)) return { kind: "redirect", location: RESERVED_PREFIX };
  if (rawPath.startsWith(RESERVED_PREFIX)) {
    const rest = rawPath.slice(RESERVED_PREFIX.length);
    if (rest === "health") return { kind: "health" };
    if (rest.startsWith("api/")) return { kind: "api", endpoint: rest.slice("api/".length), query };
    if (/^[a-z0-9-]*(\.[a-z]+)?$/.test(rest))
      return { kind: "page", asset: rest === "" ? "index.html" : rest };
    throw notFound("no such reserved path");
  }
  return { kind: "image", key: parseKey(rawPath), ...parseImageParameters(query), query };
}

/**
 * The S3 key a request path names, refusing what no honest client sends: bad percent-escapes, control
 * characters, backslashes, empty, `.` or `..` segments (path traversal), and over-long keys.
 */
export function parseKey(rawPath: string): string {
  let key: string;
  try {
    key = rawPath
      .replace(/^\//, "")
      .split("/")
      .map((segment) => decodeURIComponent(segment))
      .join("/");
  } catch {
    throw badRequest("BAD_KEY", "the path has an invalid percent-escape");
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f\\]/.test(key)) throw badRequest("BAD_KEY", "the key has a forbidden character");
  const segments = key.split("/");
  if (segments.some((segment) => segment === "" || segment === "." || segment === "..")) {
    throw badRequest("BAD_KEY", "the key has an empty, '.' or '..' segment");
  }
  if (Buffer.byteLength(key, "utf8") > MAX_KEY_BYTES) throw badRequest("BAD_KEY", "the key is too long");
  return key;
}

function parseImageParameters(query: QueryPairs): Pick<ImageRequest, "format" | "quality"> {
  const seen = new Set<string>();
  for (const [name] of query) {
    // Unknown or repeated parameters would split the CDN cache (cache-busting abuse) or be ambiguous.
    if (!IMAGE_PARAMETERS.has(name)) throw badRequest("BAD_PARAMETER", `unknown parameter "${name}"`);
    if (seen.has(name)) throw badRequest("BAD_PARAMETER", `parameter "${name}" is repeated`);
    seen.add(name);
  }
  const get = (name: string): string | undefined => query.find(([n]) => n === name)?.[1];
  const format = get("format");
  if (format !== undefined && format !== "auto" && !isOutputFormat(format)) {
    throw badRequest("BAD_PARAMETER", `format must be one of ${OUTPUT_FORMATS.join(", ")} or auto`);
  }
  const quality = get("quality");
  if (quality !== undefined && !/^(100|[1-9][0-9]?)$/.test(quality)) {
    throw badRequest("BAD_PARAMETER", "quality must be an integer from 1 to 100");
  }
  const expires = get("expires");
  if (expires !== undefined && !/^[0-9]{1,12}$/.test(expires)) {
    throw badRequest("BAD_PARAMETER", "expires must be a Unix time in seconds");
  }
  return {
    format: format as RequestedFormat | undefined,
    quality: quality === undefined ? undefined : Number(quality),
  };
}

/** Refuses keys outside the configured source prefixes (empty list: every key is allowed). */
export function checkPrefix(key: string, prefixes: readonly string[]): void {
  if (isUnderSourcePrefixes(key, prefixes)) return;
  throw forbidden("KEY_FORBIDDEN", "this key is outside the prefixes this origin serves");
}
