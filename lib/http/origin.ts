/**
 * The CDN origin's core: one request in, one response out, no Lambda or node:http types. A current stored
 * derivative is served as it is; otherwise the source is restored once, stored, and served. The adapters
 * (handlers/cdn-origin.ts, lib/http/local-server.ts) only translate requests and responses.
 */
import type { Config, OutputFormat } from "../config.js";
import { isUnjpegError } from "../errors.js";
import { type EncodeRates, encodeFits, observeEncode, SEEDED_ENCODE_RATES } from "./encode-budget.js";
import { derivativeRefused, methodNotAllowed, notFound, skipAnswer, timedOut, tooLarge } from "./errors.js";
import { createFailureMemory } from "./failure-memory.js";
import { createPendingMemory, type HandOff, type PendingState, within } from "./hand-off.js";
import { CACHE_PENDING, representationEtag } from "./headers.js";
import { createHotCache, type HotEntry } from "./hot-cache.js";
import { createLimiter, freshShared, type Limiter, singleFlight } from "./limiter.js";
import { acceptableFormats } from "./negotiate.js";
import { errorResponse, jsonResponse, redirect } from "./respond.js";
import { judgeRestore, observeRestore, type RestoreRate, SEEDED_RATE } from "./restore-estimate.js";
import { checkPrefix, type ImageRequest, type Route, route } from "./route.js";
import { derivativeEtag, describeStored, serveBody, withoutBodyForHead } from "./serve.js";
import { verifySignature } from "./signing.js";
import type {
  DeriveOutcome,
  ModelStatus,
  ObjectHead,
  OriginRequest,
  OriginResponse,
  OriginStore,
  StoredObject,
} from "./types.js";

export interface OriginOptions {
  readonly config: Config;
  readonly store: OriginStore;
  readonly modelStatus: () => Promise<ModelStatus>;
  /** Restorations run at once in this process (default 1: the model uses every core it is given). */
  readonly concurrency?: number;
  /** Restorations that may wait for a slot before further ones get 503 (default 8). */
  readonly maxQueued?: number;
  /** A restoration taking longer is abandoned with 503 TIMEOUT (default 5 minutes). */
  readonly restoreTimeoutMs?: number;
  /** Reserved routes only the local stack serves: the page and its API. */
  readonly extraRoutes?: (
    request: OriginRequest,
    route: Extract<Route, { kind: "page" | "api" }>,
  ) => Promise<OriginResponse>;
  /** Told of every answer with a 5xx status (the client sees only a code and a safe message). */
  readonly onServerError?: (error: unknown, request: OriginRequest) => void;
  /** Memory for recently served derivatives, validated against the source on every request (default 64 MiB; 0: off). */
  readonly hotCacheBytes?: number;
  /** Unix seconds (tests move the clock). */
  readonly now?: () => number;
  /** Where a restore that cannot finish before the answer is due is sent (Lambda: the restore queue). */
  readonly handOff?: HandOff;
  /** This process outlives its requests (the local stack): a restore that misses an answer goes on here. */
  readonly background?: boolean;
  /** Longest a request waits for a restore before the original is served as pending (default: no limit). */
  readonly pendingAfterMs?: number;
  /**
   * Told of each restore that missed its answer: where it went, why not the queue when it did not, and
   * the estimate when it was handed off before starting because it would not have finished in time.
   */
  readonly onPending?: (event: {
    key: string;
    format: OutputFormat;
    state: PendingState;
    error?: unknown;
    estimatedMs?: number;
  }) => void;
  /** Restore speed assumed until this process has measured its own (default SEEDED_RATE). */
  readonly restoreRate?: RestoreRate;
  /** Encode speed per format assumed until this process has measured its own (default SEEDED_ENCODE_RATES). */
  readonly encodeRates?: EncodeRates;
  /** Milliseconds, for the revalidation window (`config.revalidateSeconds`; tests move the clock). */
  readonly clockMs?: () => number;
}

export type Origin = (request: OriginRequest) => Promise<OriginResponse>;

export function createOrigin(options: OriginOptions): Origin {
  const { config, store } = options;
  const limiter: Limiter = createLimiter({
    concurrency: options.concurrency ?? 1,
    maxQueued: options.maxQueued ?? 8,
  });
  const shared = singleFlight<DeriveOutcome>();
  // Concurrent requests for one image share a source HEAD sent after they arrived (never an older one).
  const sharedHead = freshShared<ObjectHead | null>();
  const headSource = (key: string): Promise<ObjectHead | null> =>
    sharedHead(key, () => store.headSource(key));
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const restoreTimeoutMs = options.restoreTimeoutMs ?? 300_000;
  const hotCache =
    (options.hotCacheBytes ?? 64 * 1024 * 1024) > 0
      ? createHotCache(options.hotCacheBytes ?? 64 * 1024 * 1024)
      : undefined;
  const remember = (
    cacheKey: string,
    derivativeKey: string,
    metadata: Readonly<Record<string, string>>,
    body: Uint8Array,
    checkedAtMs: number,
  ): void => hotCache?.set(cacheKey, { derivativeKey, metadata, body, checkedAtMs });
  const clockMs = options.clockMs ?? Date.now;
  const revalidateMs = config.revalidateSeconds * 1000;
  const hotHead = (hot: HotEntry): ObjectHead => ({
    key: hot.derivativeKey,
    etag: "",
    size: hot.body.byteLength,
    contentType: undefined,
    metadata: hot.metadata,
  });

  /** Restores in flight by flight key, to abandon one that was handed off (it then writes nothing). */
  const restoring = new Map<string, AbortController>();
  /** Restores handed off lately: requests meanwhile answer at once rather than start them again. */
  const pendingMemory = createPendingMemory(PENDING_RETRY_MS);
  /** Sources whose content failed lately (415, 413, 422): answered again without reading them. */
  const failures = createFailureMemory(FAILURE_MEMORY_MS);
  const flightKey = (key: string, source: ObjectHead, format: OutputFormat): string =>
    `${format}\u0000${source.etag}\u0000${key}`;
  /** This process's restore speed: seeded, then learnt from each restore it completes. */
  let rate: RestoreRate = options.restoreRate ?? SEEDED_RATE;
  /** This process's encode speed per format (search included), seeded and learnt the same way. */
  let encodeRates: EncodeRates = options.encodeRates ?? SEEDED_ENCODE_RATES;

  const derive = (
    key: string,
    source: ObjectHead,
    format: OutputFormat,
    signal?: AbortSignal,
    pixels?: number,
  ): Promise<DeriveOutcome> => {
    const flight = flightKey(key, source, format);
    return shared(flight, async () => {
      const controller = new AbortController();
      restoring.set(flight, controller);
      try {
        return await limiter.run(async () => {
          const deadline = AbortSignal.timeout(restoreTimeoutMs);
          const combined = AbortSignal.any([deadline, controller.signal, ...(signal ? [signal] : [])]);
          try {
            // Timed in its slot, end to end (source read, restore, write): what an answer must wait for.
            const startedMs = performance.now();
            const outcome = await store.derive(key, format, combined);
            if (outcome.action === "restored" && pixels !== undefined) {
              rate = observeRestore(rate, pixels, performance.now() - startedMs);
              if (outcome.encodeMs !== undefined)
                encodeRates = observeEncode(encodeRates, format, pixels, outcome.encodeMs);
            }
            return outcome;
          } catch (error) {
            if (combined.aborted) throw timedOut(5, error);
            throw error;
          }
        });
      } finally {
        restoring.delete(flight);
      }
    });
  };

  /** A restore missed its answer: it goes on here, or is abandoned and sent to the queue when there is one. */
  async function handOffRestore(
    key: string,
    source: ObjectHead,
    format: OutputFormat,
    estimatedMs?: number,
  ): Promise<PendingState> {
    const flight = flightKey(key, source, format);
    let state: PendingState = "restoring";
    let error: unknown;
    if (options.background !== true) {
      restoring.get(flight)?.abort();
      state = "not-queued";
      if (options.handOff !== undefined) {
        try {
          await options.handOff(source);
          state = "queued";
        } catch (sendError) {
          error = sendError;
        }
      }
      pendingMemory.set(flight, state, clockMs());
    }
    const extra = {
      ...(error === undefined ? {} : { error }),
      ...(estimatedMs === undefined ? {} : { estimatedMs }),
    };
    options.onPending?.({ key, format, state, ...extra });
    return state;
  }

  /**
   * The original as it is, marked pending and cached briefly, so the restored image replaces it soon. But
   * when another format was asked and the derivative in the configured format (the one a queued restore
   * writes) is current, that restoration is served re-encoded instead.
   */
  async function servePending(
    request: OriginRequest,
    wanted: ImageRequest,
    source: ObjectHead,
    format: OutputFormat,
    state: PendingState,
    headers: Record<string, string>,
    timing: () => string,
  ): Promise<OriginResponse> {
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
        etag: representationEtag(["pending", original.etag]),
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

  async function serveImage(request: OriginRequest, wanted: ImageRequest): Promise<OriginResponse> {
    const started = performance.now();
    const { key } = wanted;
    // The signature first: an unsigned client learns nothing, not even which prefixes are served.
    verifySignature({ decodedKey: key, query: wanted.query, keys: config.signingKeys, now: now() });
    checkPrefix(key, config.sourcePrefixes);
    if (store.isDerivativeKey(key)) throw derivativeRefused();
    const common: Record<string, string> = { "x-content-type-options": "nosniff" };
    if (wanted.format !== "auto")
      return (await serveFormat(request, wanted, wanted.format ?? config.format, common, started, false))!;
    // format=auto: the formats this client takes, best first; one that cannot hold the image (found from
    // its headers, before any restore or decode), or whose encoding would take too long next to the
    // restore (lib/http/encode-budget.ts: AVIF, mostly), gives way to the next, and the answer says so.
    common["vary"] = "Accept";
    const formats = acceptableFormats(request.headers["accept"]);
    for (let i = 0; ; i++) {
      const format = formats[i]!;
      const last = i + 1 >= formats.length;
      const headers =
        i === 0 ? common : { ...common, "x-unjpeg-format-fallback": `${formats[0]}->${format}` };
      try {
        const response = await serveFormat(request, wanted, format, headers, started, !last);
        if (response !== null) return response;
      } catch (error) {
        const misfit = isUnjpegError(error) && error.code === "IMAGE_TOO_LARGE_FOR_FORMAT";
        if (!misfit || last) throw error;
      }
    }
  }

  /**
   * One request in one output format: a stored derivative, a restore, or the source as it is. null (only
   * with `passOverSlow`): a restore would be needed and this format's encoding would not fit its time.
   */
  async function serveFormat(
    request: OriginRequest,
    wanted: ImageRequest,
    format: OutputFormat,
    common: Record<string, string>,
    started: number,
    passOverSlow: boolean,
  ): Promise<OriginResponse | null> {
    // When this look at the source begins: what a derivative kept in memory was checked against.
    const checkStartMs = clockMs();
    const { key } = wanted;
    const cacheKey = `${format}\u0000${key}`;
    const hot = hotCache?.get(cacheKey);
    let source: ObjectHead | null;
    let stored: StoredObject | null;
    if (hot === undefined) {
      [source, stored] = await Promise.all([headSource(key), store.getDerivative(key, format)]);
    } else {
      // A derivative served recently: the source's HEAD alone says whether it is still current, unless
      // it was checked within the configured revalidation window (default none).
      const recent = revalidateMs > 0 && checkStartMs - hot.checkedAtMs < revalidateMs;
      source = recent ? null : await headSource(key);
      const current =
        recent ||
        (source !== null &&
          !store.isDerivative(source) &&
          source.size <= config.maxBytes &&
          store.isCurrent(hotHead(hot), source));
      if (current) {
        if (!recent) hot.checkedAtMs = checkStartMs;
        return serveBody(
          request,
          { read: async () => hot.body, discard: () => {}, key: hot.derivativeKey },
          {
            etag: derivativeEtag(hot.metadata, format, wanted.quality),
            format,
            quality: wanted.quality,
            headers: { ...common, ...describeStored(hot.metadata), "x-unjpeg-action": "hit" },
            timing: () => `origin;dur=${(performance.now() - started).toFixed(1)}`,
          },
        );
      }
      hotCache?.delete(cacheKey);
      stored = await store.getDerivative(key, format);
    }
    if (source === null || store.isDerivative(source)) {
      stored?.discard();
      if (source === null) throw notFound();
      throw derivativeRefused();
    }
    if (source.size > config.maxBytes) {
      stored?.discard();
      throw tooLarge(`the source is ${source.size} bytes; this origin restores at most ${config.maxBytes}`);
    }

    const timing = (): string => `origin;dur=${(performance.now() - started).toFixed(1)}`;
    if (stored !== null && store.isCurrent(stored, source)) {
      const current = stored;
      const read = async (): Promise<Uint8Array> => {
        const body = await current.read();
        remember(cacheKey, current.key, current.metadata, body, checkStartMs);
        return body;
      };
      return serveBody(
        request,
        { read, discard: current.discard, key: current.key },
        {
          etag: derivativeEtag(stored.metadata, format, wanted.quality),
          format,
          quality: wanted.quality,
          headers: { ...common, ...describeStored(stored.metadata), "x-unjpeg-action": "hit" },
          timing,
        },
      );
    }
    stored?.discard();

    // A failure of this source version's content is answered again without reading the source.
    const failed = failures.get(key, source.etag, format, clockMs());
    if (failed !== undefined) throw failed;
    try {
      return await serveFromSource(request, wanted, source, format, common, timing, {
        cacheKey,
        checkStartMs,
        passOverSlow,
      });
    } catch (error) {
      failures.remember(key, source.etag, format, error, clockMs());
      throw error;
    }
  }

  /**
   * No current derivative: restore the source (or hand it off), or serve it as it is when it is skipped;
   * null when `passOverSlow` and this format's encoding would not fit the restore's time.
   */
  async function serveFromSource(
    request: OriginRequest,
    wanted: ImageRequest,
    source: ObjectHead,
    format: OutputFormat,
    common: Record<string, string>,
    timing: () => string,
    /**
     * Where a restored derivative goes in memory, when this request's look at the source began, and
     * whether a format whose encoding would not fit is passed over (format=auto, not its last choice).
     */
    hot: { cacheKey: string; checkStartMs: number; passOverSlow: boolean },
  ): Promise<OriginResponse | null> {
    const { key } = wanted;
    const { cacheKey, checkStartMs, passOverSlow } = hot;
    const known = pendingMemory.get(flightKey(key, source, format), clockMs());
    if (known !== undefined) return servePending(request, wanted, source, format, known, common, timing);
    const dueAt = Math.min(
      clockMs() + (options.pendingAfterMs ?? Number.POSITIVE_INFINITY),
      request.answerBy ?? Number.POSITIVE_INFINITY,
    );
    // Decided upfront: a restore estimated (from its pixels) to outlast the wait is handed off now rather
    // than after the whole wait. The wait below stays the backstop for estimates that were too low.
    const triage =
      store.triage !== undefined && ((Number.isFinite(dueAt) && dueAt > clockMs()) || passOverSlow)
        ? await store.triage(source, format).catch(() => null)
        : null;
    if (
      passOverSlow &&
      triage?.action === "restore" &&
      !encodeFits(format, triage.width * triage.height, encodeRates, rate)
    )
      return null;
    const { pixels, estimatedMs } = judgeRestore(triage, rate, dueAt - clockMs());
    let outcome: DeriveOutcome | undefined;
    if (estimatedMs !== undefined) {
      // A long-running process restores it anyway, in the background (the request does not wait).
      if (options.background === true) derive(key, source, format, undefined, pixels).catch(() => {});
    } else if (dueAt - clockMs() > 0) {
      const flight = derive(key, source, format, request.signal, pixels);
      outcome = await within(flight, dueAt - clockMs());
      if (outcome === undefined) flight.catch(() => {}); // its end is no longer this request's business
    }
    if (outcome === undefined) {
      const state = await handOffRestore(key, source, format, estimatedMs);
      return servePending(request, wanted, source, format, state, common, timing);
    }
    if (outcome.action === "restored") {
      const body = outcome.body;
      remember(cacheKey, outcome.derivativeKey, outcome.metadata, body, checkStartMs);
      return serveBody(
        request,
        { read: async () => body, discard: () => {}, key: outcome.derivativeKey },
        {
          etag: derivativeEtag(outcome.metadata, format, wanted.quality),
          format,
          quality: wanted.quality,
          headers: { ...common, ...describeStored(outcome.metadata), "x-unjpeg-action": "restored" },
          timing,
        },
      );
    }
    switch (outcome.reason) {
      case "high-quality":
      case "unsupported":
      case "key-too-long": {
        // Nothing to restore (or nowhere to store it): the client still gets its image, in the asked format.
        const original = await store.getObject(key);
        if (original === null) throw notFound();
        const headers: Record<string, string> = {
          ...common,
          "x-unjpeg-action": "skipped",
          "x-unjpeg-skip-reason": outcome.reason,
        };
        if (outcome.quality !== null) headers["x-unjpeg-quality"] = String(outcome.quality);
        return serveBody(
          request,
          { read: original.read, discard: original.discard, key },
          {
            etag: representationEtag(["source", original.etag, format, wanted.quality]),
            format,
            quality: wanted.quality,
            bytesFormat: "jpeg",
            source: { maxPixels: config.maxPixels },
            headers,
            timing,
          },
        );
      }
      default:
        throw skipAnswer(outcome.reason, outcome.message);
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

/** A source handed off is not tried again here for this long (a later request then finds the derivative). */
const PENDING_RETRY_MS = 5 * 60_000;
/** A source version whose content failed is answered from memory for this long (the answer: 60 s). */
const FAILURE_MEMORY_MS = 10 * 60_000;
