/**
 * The last step of every image answer: headers (cache, ETag, type), 304 on a matching If-None-Match, and
 * the body as stored or re-encoded to the asked variant.
 */
import type { OutputFormat } from "../config.js";
import { ImageError } from "../image/errors.js";
import { imageAnswer } from "./errors.js";
import { CACHE_SUCCESS, matchesIfNoneMatch, representationEtag } from "./headers.js";
import { contentTypeOf } from "./negotiate.js";
import type { OriginRequest, OriginResponse } from "./types.js";
import { checkDecodes, encodeVariant } from "./variant.js";

export interface Servable {
  readonly read: () => Promise<Uint8Array>;
  readonly discard: () => void;
  readonly key?: string;
}

export async function serveBody(
  request: OriginRequest,
  object: Servable,
  how: {
    etag: string;
    format: OutputFormat;
    quality: number | undefined;
    /** The format the stored bytes are in, when it may differ from `format` (then they are transcoded). */
    bytesFormat?: OutputFormat;
    /**
     * The bytes are a source, not something unjpeg wrote: they are served only if they decode as an image
     * within `maxPixels` (as they are or transcoded), and one that does not is the input's fault (415).
     */
    source?: { readonly maxPixels: number };
    /** Overrides: the pending answer serves the original as it is, briefly cached. */
    contentType?: string;
    cacheControl?: string;
    headers: Record<string, string>;
    timing: () => string;
  },
): Promise<OriginResponse> {
  const headers: Record<string, string> = {
    ...how.headers,
    etag: how.etag,
    "cache-control": how.cacheControl ?? CACHE_SUCCESS,
    "content-type": how.contentType ?? contentTypeOf(how.format),
  };
  if (matchesIfNoneMatch(request.headers["if-none-match"], how.etag)) {
    object.discard();
    return { status: 304, headers: { ...headers, "server-timing": how.timing() } };
  }
  const bytes = await object.read();
  const needsEncode =
    how.quality !== undefined || (how.bytesFormat !== undefined && how.bytesFormat !== how.format);
  if (!needsEncode) {
    // A source goes out as an image only if it is one (a transcode below proves it by decoding it).
    if (how.source !== undefined) await imageOrAnswer(checkDecodes(bytes, how.source.maxPixels), true);
    const response = { status: 200, headers: { ...headers, "server-timing": how.timing() }, body: bytes };
    return object.key === undefined ? response : { ...response, storedKey: object.key };
  }
  const variant = await imageOrAnswer(
    encodeVariant(bytes, how.format, how.quality, how.source?.maxPixels),
    how.source !== undefined,
  );
  const response = {
    status: 200,
    headers: { ...headers, "server-timing": how.timing() },
    body: variant.body,
  };
  // Over a response-size limit, the stored image this variant was made from stands in for it.
  return object.key === undefined ? response : { ...response, storedKey: object.key };
}

/** The work's value, or its `ImageError` as the answer a client gets (lib/http/errors.ts `imageAnswer`). */
async function imageOrAnswer<T>(work: Promise<T>, bytesAreSource: boolean): Promise<T> {
  try {
    return await work;
  } catch (error) {
    throw error instanceof ImageError ? imageAnswer(error, bytesAreSource) : error;
  }
}

/** Response headers describing a stored derivative, from its metadata (docs/CONTRACTS.md). */
export function describeStored(metadata: Readonly<Record<string, string>>): Record<string, string> {
  const headers: Record<string, string> = {};
  if (metadata["unjpeg-quality"] !== undefined) headers["x-unjpeg-quality"] = metadata["unjpeg-quality"];
  if (metadata["unjpeg-model"] !== undefined) headers["x-unjpeg-model"] = metadata["unjpeg-model"];
  if (metadata["unjpeg-ms"] !== undefined) headers["x-unjpeg-restore-ms"] = metadata["unjpeg-ms"];
  return headers;
}

export function withoutBodyForHead(request: OriginRequest, response: OriginResponse): OriginResponse {
  if (request.method !== "HEAD" || response.body === undefined) return response;
  return {
    ...response,
    headers: { ...response.headers, "content-length": String(response.body.byteLength) },
    body: undefined,
  };
}

/**
 * A derivative's representation is named by what determines it (source version, model, format, quality),
 * so the response that stored it and every later hit share one ETag.
 */
export const derivativeEtag = (
  metadata: Readonly<Record<string, string>>,
  format: OutputFormat,
  quality: number | undefined,
): string =>
  representationEtag([
    "derivative",
    metadata["unjpeg-source-etag"],
    metadata["unjpeg-model"],
    format,
    quality,
  ]);
