/**
 * The CDN origin's core: one request in, one response out, no Lambda or node:http types. A current stored
 * derivative is served as it is; otherwise the source is restored once, stored, and served. The adapters
 * (handlers/cdn-origin.ts, lib/http/local-server.ts) only translate requests and responses.
 *
 * An image request goes through these steps in order, each refusing, answering, or passing on what it
 * found (docs/architecture.md): signature → prefix → negotiation → cache → stored hit → schedule/pending →
 * serve. Every S3 object is asked about once per request: the source's HEAD and the derivative's GET are
 * passed down to the restore, with the one triage of the source's headers.
 */

import { methodNotAllowed, notFound } from "./errors.js";
import { createOriginParts, type FormatAsk, isAnswer, type OriginOptions } from "./origin-parts.js";
import { createRestores, scheduleRestore } from "./origin-restore.js";
import { serveOutcome } from "./origin-serve.js";
import { checkPlace, checkSignature, fromHotCache, fromStored, negotiate } from "./origin-steps.js";
import { errorResponse, jsonResponse, redirect } from "./respond.js";
import { type ImageRequest, route } from "./route.js";
import { withoutBodyForHead } from "./serve.js";
import type { OriginRequest, OriginResponse } from "./types.js";

export type { OriginOptions } from "./origin-parts.js";

export type Origin = (request: OriginRequest) => Promise<OriginResponse>;

export function createOrigin(options: OriginOptions): Origin {
  const parts = createOriginParts(options);
  const restores = createRestores(parts);

  async function serveImage(request: OriginRequest, wanted: ImageRequest): Promise<OriginResponse> {
    const started = performance.now();
    const timing = (): string => `origin;dur=${(performance.now() - started).toFixed(1)}`;
    checkSignature(parts, wanted);
    checkPlace(parts, wanted);
    return negotiate(parts, request, wanted, (format, headers, passOverSlow) =>
      serveFormat({
        request,
        wanted,
        format,
        headers,
        timing,
        cacheKey: `${format}\u0000${wanted.key}`,
        checkStartMs: parts.clockMs(),
        passOverSlow,
      }),
    );
  }

  /**
   * One request in one output format: a derivative from memory or as stored, a restore, or the source;
   * null (only with `passOverSlow`) when a restore would be needed and this format's encoding would not fit.
   */
  async function serveFormat(ask: FormatAsk): Promise<OriginResponse | null> {
    const seen = await fromHotCache(parts, ask);
    if (isAnswer(seen)) return seen;
    const found = await fromStored(parts, ask, seen);
    if (isAnswer(found)) return found;
    // A failure of this source version's content is answered again without reading the source.
    const { key } = ask.wanted;
    const eTag = found.source.eTag ?? "";
    const failed = parts.failures.get(key, eTag, ask.format, parts.clockMs());
    if (failed !== undefined) throw failed;
    try {
      const outcome = await scheduleRestore(parts, restores, ask, found);
      if (outcome === null || isAnswer(outcome)) return outcome;
      return await serveOutcome(parts, ask, outcome);
    } catch (error) {
      parts.failures.remember(key, eTag, ask.format, error, parts.clockMs());
      throw error;
    }
  }

  return async function origin(request: OriginRequest): Promise<OriginResponse> {
    try {
      const target = route(request.path, request.query);
      const isRead = request.method === "GET" || request.method === "HEAD";
      switch (target.kind) {
        case "redirect":
          return redirect(target.location);
        case "health": {
          if (!isRead) throw methodNotAllowed();
          const model = await options.modelStatus();
          return jsonResponse(model.error === undefined ? 200 : 503, {
            ok: model.error === undefined,
            model,
          });
        }
        case "page":
        case "api":
          if (options.extraRoutes === undefined) throw notFound("no such reserved path");
          return await options.extraRoutes(request, target);
        case "image": {
          if (!isRead) throw methodNotAllowed();
          return withoutBodyForHead(request, await serveImage(request, target));
        }
      }
    } catch (error) {
      const response = errorResponse(error);
      if (response.status >= 500) options.onServerError?.(error, request);
      return withoutBodyForHead(request, response);
    }
  };
}
