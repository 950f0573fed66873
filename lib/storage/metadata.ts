/**
 * The S3 user metadata on a derivative (docs/CONTRACTS.md) and the staleness rule built on it. Values
 * travel as HTTP headers, so the source key is stored percent-encoded (UTF-8) and decoded on read.
 */

export const META = Object.freeze({
  derivative: "unjpeg-derivative",
  sourceKey: "unjpeg-source-key",
  sourceETag: "unjpeg-source-etag",
  sourceVersion: "unjpeg-source-version",
  quality: "unjpeg-quality",
  earlierQuality: "unjpeg-earlier-quality",
  model: "unjpeg-model",
  ms: "unjpeg-ms",
  encode: "unjpeg-encode",
});

/** Set on every derivative; long enough for a CDN, short enough that a replaced source shows within a day. */
export const DERIVATIVE_CACHE_CONTROL = "public, max-age=86400";

export interface DerivativeMetadata {
  readonly sourceKey: string;
  /** Without quotes. */
  readonly sourceETag: string;
  readonly sourceVersion: string | undefined;
  /** Estimated source quality (from the tables); null when it could not be estimated. */
  readonly quality: number | null;
  /** A re-saved source's earlier, harder compression's quality, which it was restored as (lib/restore/resaved.ts). */
  readonly earlierQuality?: number;
  /** `<id>@<version>` of the model that made it. */
  readonly model: string;
  /** Restore time in milliseconds. */
  readonly restoreMs: number;
  /** The encoder setting written (`jpeg q87 4:2:0 flat prog`, lib/image/encoder-setting.ts), when known. */
  readonly encoding?: string | undefined;
}

/** ETags arrive quoted from HEAD/GET and unquoted in events; compare and store them unquoted. */
export function normalizeETag(eTag: string | undefined): string | undefined {
  if (eTag === undefined) return undefined;
  const trimmed = eTag.trim().replace(/^W\//, "");
  return trimmed.replace(/^"(.*)"$/, "$1");
}

export function buildDerivativeMetadata(meta: DerivativeMetadata): Record<string, string> {
  const out: Record<string, string> = {
    [META.derivative]: "1",
    [META.sourceKey]: encodeURIComponent(meta.sourceKey),
    [META.sourceETag]: normalizeETag(meta.sourceETag) ?? "",
    [META.model]: meta.model,
    [META.ms]: String(Math.round(meta.restoreMs)),
  };
  if (meta.quality !== null) out[META.quality] = String(meta.quality);
  if (meta.earlierQuality !== undefined) out[META.earlierQuality] = String(meta.earlierQuality);
  if (meta.sourceVersion !== undefined) out[META.sourceVersion] = meta.sourceVersion;
  if (meta.encoding !== undefined) out[META.encode] = meta.encoding;
  return out;
}

/** Whether an object's metadata marks it as an unjpeg derivative (whatever else it holds). */
export function hasDerivativeMarker(metadata: Readonly<Record<string, string>> | undefined): boolean {
  return metadata?.[META.derivative] !== undefined;
}

/** The derivative metadata of an object, or null when it is not a (well-formed) derivative. */
export function parseDerivativeMetadata(
  metadata: Readonly<Record<string, string>> | undefined,
): DerivativeMetadata | null {
  if (metadata === undefined || metadata[META.derivative] !== "1") return null;
  const encodedKey = metadata[META.sourceKey];
  const eTag = metadata[META.sourceETag];
  const model = metadata[META.model];
  if (encodedKey === undefined || eTag === undefined || model === undefined) return null;
  let sourceKey: string;
  try {
    sourceKey = decodeURIComponent(encodedKey);
  } catch {
    return null;
  }
  const quality = metadata[META.quality] === undefined ? null : Number(metadata[META.quality]);
  const restoreMs = Number(metadata[META.ms] ?? Number.NaN);
  const earlierQuality = Number(metadata[META.earlierQuality] ?? Number.NaN);
  return {
    sourceKey,
    sourceETag: normalizeETag(eTag) ?? "",
    sourceVersion: metadata[META.sourceVersion],
    quality: quality !== null && Number.isFinite(quality) ? quality : null,
    ...(Number.isFinite(earlierQuality) ? { earlierQuality } : {}),
    model,
    restoreMs: Number.isFinite(restoreMs) ? restoreMs : 0,
    ...(metadata[META.encode] === undefined ? {} : { encoding: metadata[META.encode] }),
  };
}

export interface HeadLike {
  readonly eTag: string | undefined;
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * Current = made from this very source (key and ETag) by the running model; anything else is stale.
 * The key is compared too, so `cat.jpg` never takes `cat.jpeg`'s derivative for its own.
 */
export function isCurrent(
  derivativeHead: HeadLike,
  sourceHead: HeadLike & { readonly key: string },
  modelId: string,
): boolean {
  const meta = parseDerivativeMetadata(derivativeHead.metadata);
  const sourceETag = normalizeETag(sourceHead.eTag);
  return (
    meta !== null &&
    sourceETag !== undefined &&
    meta.sourceETag === sourceETag &&
    meta.sourceKey === sourceHead.key &&
    meta.model === modelId
  );
}
