/**
 * The origin's answers with an image: a derivative (from memory, as stored, or just restored), the source
 * as it is (skipped, or pending while a restore is on its way). Each one goes out through serveBody
 * (serve.ts: headers, 304, the asked variant).
 */
import { notFound, skipAnswer } from "./errors.js";
import type { PendingState } from "./hand-off.js";
import { CACHE_PENDING, representationEtag } from "./headers.js";
import type { HotEntry } from "./hot-cache.js";
import type { FormatAsk, OriginParts } from "./origin-parts.js";
import { derivativeEtag, describeStored, type Servable, serveBody } from "./serve.js";
import type { ObjectHead, OriginDerive, OriginResponse } from "./types.js";

/** A derivative: from memory, as stored, or just written (`action` says which for x-unjpeg-action). */
export function serveDerivative(
  ask: FormatAsk,
  body: Servable,
  metadata: Readonly<Record<string, string>>,
  action: "hit" | "restored",
): Promise<OriginResponse> {
  const { request, wanted, format } = ask;
  return serveBody(request, body, {
    etag: derivativeEtag(metadata, format, wanted.quality),
    format,
    quality: wanted.quality,
    headers: { ...ask.headers, ...describeStored(metadata), "x-unjpeg-action": action },
    timing: ask.timing,
  });
}

/** A derivative kept in memory, checked current. */
export function serveHot(ask: FormatAsk, hot: HotEntry): Promise<OriginResponse> {
  const body = { read: async () => hot.body, discard: () => {}, key: hot.derivativeKey };
  return serveDerivative(ask, body, hot.metadata, "hit");
}

/**
 * Serve: what the restore came to. Restored: the derivative just written (kept in memory). Skipped with
 * nothing to restore (or nowhere to store it): the source, in the asked format. Any other skip: its answer.
 */
export async function serveOutcome(
  parts: OriginParts,
  ask: FormatAsk,
  outcome: OriginDerive,
): Promise<OriginResponse> {
  const { request, wanted, format } = ask;
  const { key } = wanted;
  if (outcome.action === "restored") {
    const body = outcome.body;
    parts.hotCache?.set(ask.cacheKey, {
      derivativeKey: outcome.derivativeKey,
      metadata: outcome.metadata,
      body,
      checkedAtMs: ask.checkStartMs,
    });
    const servable = { read: async () => body, discard: () => {}, key: outcome.derivativeKey };
    return serveDerivative(ask, servable, outcome.metadata, "restored");
  }
  switch (outcome.reason) {
    case "high-quality":
    case "unsupported":
    case "key-too-long": {
      const original = await parts.store.getObject(key);
      if (original === null) throw notFound();
      const headers: Record<string, string> = {
        ...ask.headers,
        "x-unjpeg-action": "skipped",
        "x-unjpeg-skip-reason": outcome.reason,
      };
      if (outcome.quality !== null) headers["x-unjpeg-quality"] = String(outcome.quality);
      return serveBody(
        request,
        { read: original.read, discard: original.discard, key },
        {
          etag: representationEtag(["source", original.eTag, format, wanted.quality]),
          format,
          quality: wanted.quality,
          bytesFormat: "jpeg",
          source: { maxPixels: parts.config.maxPixels },
          headers,
          timing: ask.timing,
        },
      );
    }
    default:
      throw skipAnswer(outcome.reason, outcome.message);
  }
}

/**
 * The original as it is, marked pending and cached briefly, so the restored image replaces it soon. But
 * when another format was asked and the derivative in the configured format (the one a queued restore
 * writes) is current, that restoration is served re-encoded instead.
 */
export async function servePending(
  parts: OriginParts,
  ask: FormatAsk,
  source: ObjectHead,
  state: PendingState,
): Promise<OriginResponse> {
  const { config, store } = parts;
  const { request, wanted, format, headers, timing } = ask;
  const { key } = wanted;
  if (format !== config.format) {
    const restored = await store.getDerivative(key, config.format);
    if (restored !== null && store.isCurrent(restored, source)) {
      return serveBody(
        request,
        { read: restored.read, discard: restored.discard, key: restored.key },
        {
          etag: representationEtag([
            "re-encoded",
            restored.metadata["unjpeg-source-etag"],
            restored.metadata["unjpeg-model"],
            config.format,
            format,
            wanted.quality,
          ]),
          format,
          quality: wanted.quality,
          bytesFormat: config.format,
          headers: {
            ...headers,
            ...describeStored(restored.metadata),
            "x-unjpeg-action": "hit",
            "x-unjpeg-re-encoded-from": config.format,
          },
          timing,
        },
      );
    }
    restored?.discard();
  }
  const original = await store.getObject(key);
  if (original === null) throw notFound();
  return serveBody(
    request,
    { read: original.read, discard: original.discard, key },
    {
      etag: representationEtag(["pending", original.eTag]),
      format: "jpeg",
      quality: undefined,
      contentType: original.contentType ?? "image/jpeg",
      cacheControl: CACHE_PENDING,
      // Not decoded first: a pending answer is due now, and this source passed the restore's header
      // triage; one that does not decode fails its restore, and that failure is what is answered next.
      headers: { ...headers, "x-unjpeg-action": "pending", "x-unjpeg-pending": state },
      timing,
    },
  );
}
