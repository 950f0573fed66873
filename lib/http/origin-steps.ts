/**
 * The origin's steps before any restore, in the order origin.ts runs them: signature, prefix, negotiation,
 * cache, stored hit. Each refuses (throws the answer's error), answers, or passes on what it found.
 */
import type { OutputFormat } from "../config.js";
import { isUnjpegError } from "../errors.js";
import { sourceRefusal } from "../storage/metadata.js";
import { derivativeRefused, notFound, skipAnswer } from "./errors.js";
import type { HotEntry } from "./hot-cache.js";
import { acceptableFormats } from "./negotiate.js";
import type { FormatAsk, Found, OriginParts } from "./origin-parts.js";
import { serveDerivative, serveHot } from "./origin-serve.js";
import { checkPrefix, type ImageRequest } from "./route.js";
import { verifySignature } from "./signing.js";
import type { ObjectHead, OriginResponse, StoredObject } from "./types.js";

/** Signature: first, so an unsigned client learns nothing, not even which prefixes are served. */
export function checkSignature(parts: OriginParts, wanted: ImageRequest): void {
  const { config } = parts;
  verifySignature({
    decodedKey: wanted.key,
    query: wanted.query,
    keys: config.signingKeys,
    now: parts.now(),
  });
}

/** Prefix: a key outside the served prefixes, or one that names a derivative, is refused by its name. */
export function checkPlace(parts: OriginParts, wanted: ImageRequest): void {
  checkPrefix(wanted.key, parts.config.sourcePrefixes);
  if (parts.store.isDerivativeKey(wanted.key)) throw derivativeRefused();
}

/**
 * Negotiation: the asked format, or for format=auto the formats this client takes, best first; one that
 * cannot hold the image (found from its headers, before any restore or decode), or whose encoding would not
 * fit the restore's time, gives way to the next, and the answer says so.
 */
export async function negotiate(
  parts: OriginParts,
  request: { readonly headers: Readonly<Record<string, string | undefined>> },
  wanted: ImageRequest,
  /** null only with `passOverSlow`: this format's encoding would not fit the restore's time. */
  serveFormat: (
    format: OutputFormat,
    headers: Record<string, string>,
    passOverSlow: boolean,
  ) => Promise<OriginResponse | null>,
): Promise<OriginResponse> {
  const common: Record<string, string> = { "x-content-type-options": "nosniff" };
  if (wanted.format !== "auto")
    return (await serveFormat(wanted.format ?? parts.config.format, common, false))!;
  // Also given way to: a format whose encoding would take too long next to the restore
  // (lib/http/encode-budget.ts: AVIF, mostly), unless it is the client's last choice.
  common["vary"] = "Accept";
  const formats = acceptableFormats(request.headers["accept"]);
  for (let i = 0; ; i++) {
    const format = formats[i]!;
    const last = i + 1 >= formats.length;
    const headers = i === 0 ? common : { ...common, "x-unjpeg-format-fallback": `${formats[0]}->${format}` };
    try {
      const response = await serveFormat(format, headers, !last);
      if (response !== null) return response;
    } catch (error) {
      const misfit = isUnjpegError(error) && error.code === "IMAGE_TOO_LARGE_FOR_FORMAT";
      if (!misfit || last) throw error;
    }
  }
}

/** The hot entry as the staleness rule sees a derivative: its metadata and size. */
const hotHead = (hot: HotEntry): ObjectHead => ({
  key: hot.derivativeKey,
  eTag: undefined,
  versionId: undefined,
  size: hot.body.byteLength,
  contentType: undefined,
  metadata: hot.metadata,
});

/**
 * Cache: a derivative served recently is answered from memory when the source's HEAD says it is still
 * current (or it was checked within the configured revalidation window, default none). Passes on the HEAD
 * it made (undefined: none made), so the next step does not ask again.
 */
export async function fromHotCache(
  parts: OriginParts,
  ask: FormatAsk,
): Promise<OriginResponse | { readonly source?: ObjectHead | null }> {
  const { config, store, hotCache } = parts;
  const hot = hotCache?.get(ask.cacheKey);
  if (hot === undefined) return {};
  const revalidateMs = config.revalidateSeconds * 1000;
  const recent = revalidateMs > 0 && ask.checkStartMs - hot.checkedAtMs < revalidateMs;
  const source = recent ? null : await parts.headSource(ask.wanted.key);
  const current =
    recent ||
    (source !== null &&
      sourceRefusal(source, config.maxBytes) === null &&
      store.isCurrent(hotHead(hot), source));
  if (current) {
    if (!recent) hot.checkedAtMs = ask.checkStartMs;
    return serveHot(ask, hot);
  }
  hotCache?.delete(ask.cacheKey);
  return { source };
}

/**
 * Stored hit: the source's HEAD (unless the cache step made it) and one GET of the derivative's key, at
 * once. A current derivative is served as stored (its body kept in memory as it goes out); otherwise the
 * source and what the key holds pass on to the restore.
 */
export async function fromStored(
  parts: OriginParts,
  ask: FormatAsk,
  seen: { readonly source?: ObjectHead | null },
): Promise<OriginResponse | Found> {
  const { config, store } = parts;
  const { key } = ask.wanted;
  const [source, stored] = await Promise.all([
    seen.source !== undefined ? seen.source : parts.headSource(key),
    store.getDerivative(key, ask.format),
  ]);
  // Refused from its HEAD by the storage core's own rule (a derivative, too large, empty), before any read.
  const refusal = source === null ? null : sourceRefusal(source, config.maxBytes);
  if (source === null || refusal !== null) {
    stored?.discard();
    if (source === null) throw notFound();
    throw skipAnswer(refusal!.reason, refusal!.message);
  }
  if (stored !== null && store.isCurrent(stored, source)) return serveStored(parts, ask, stored);
  stored?.discard();
  return { source, derivative: stored };
}

function serveStored(parts: OriginParts, ask: FormatAsk, stored: StoredObject): Promise<OriginResponse> {
  const read = async (): Promise<Uint8Array> => {
    const body = await stored.read();
    parts.hotCache?.set(ask.cacheKey, {
      derivativeKey: stored.key,
      metadata: stored.metadata,
      body,
      checkedAtMs: ask.checkStartMs,
    });
    return body;
  };
  return serveDerivative(ask, { read, discard: stored.discard, key: stored.key }, stored.metadata, "hit");
}
