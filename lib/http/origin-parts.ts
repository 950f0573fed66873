/**
 * What the CDN origin is built from (its options) and what its steps share for the life of the process:
 * the store, the clocks, the memory of recent derivatives, failures and hand-offs, and the restore slots.
 * Built once by createOrigin (origin.ts); the steps (origin-steps.ts, origin-restore.ts) take it first.
 */
import type { Config, OutputFormat } from "../config.js";
import type { EncodeRates } from "./encode-budget.js";
import { createFailureMemory, type FailureMemory } from "./failure-memory.js";
import { createPendingMemory, type HandOff, type PendingState } from "./hand-off.js";
import { createHotCache, type HotCache } from "./hot-cache.js";
import { freshShared } from "./limiter.js";
import type { RestoreRate } from "./restore-estimate.js";
import type { ImageRequest, Route } from "./route.js";
import type { ModelStatus, ObjectHead, OriginRequest, OriginResponse, OriginStore } from "./types.js";

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

/** A source handed off is not tried again here for this long (a later request then finds the derivative). */
const PENDING_RETRY_MS = 5 * 60_000;
/** A source version whose content failed is answered from memory for this long (the answer: 60 s). */
const FAILURE_MEMORY_MS = 10 * 60_000;
/** The default memory for recently served derivatives. */
const HOT_CACHE_BYTES = 64 * 1024 * 1024;

export interface OriginParts {
  readonly options: OriginOptions;
  readonly config: Config;
  readonly store: OriginStore;
  /** The source's HEAD, shared by concurrent requests for one key (sent after they arrived). */
  readonly headSource: (key: string) => Promise<ObjectHead | null>;
  /** Unix seconds (signatures). */
  readonly now: () => number;
  /** Milliseconds (revalidation, memories, deadlines). */
  readonly clockMs: () => number;
  /** Recently served derivatives; undefined: off. */
  readonly hotCache: HotCache | undefined;
  /** Sources whose content failed lately (415, 413, 422): answered again without reading them. */
  readonly failures: FailureMemory;
  /** Restores handed off lately: requests meanwhile answer at once rather than start them again. */
  readonly pending: ReturnType<typeof createPendingMemory>;
}

export function createOriginParts(options: OriginOptions): OriginParts {
  const { store } = options;
  // Concurrent requests for one image share a source HEAD sent after they arrived (never an older one).
  const sharedHead = freshShared<ObjectHead | null>();
  const hotCacheBytes = options.hotCacheBytes ?? HOT_CACHE_BYTES;
  return {
    options,
    config: options.config,
    store,
    headSource: (key) => sharedHead(key, () => store.headSource(key)),
    now: options.now ?? (() => Math.floor(Date.now() / 1000)),
    clockMs: options.clockMs ?? Date.now,
    hotCache: hotCacheBytes > 0 ? createHotCache(hotCacheBytes) : undefined,
    failures: createFailureMemory(FAILURE_MEMORY_MS),
    pending: createPendingMemory(PENDING_RETRY_MS),
  };
}

/** One image request in one output format, as the steps pass it along. */
export interface FormatAsk {
  readonly request: OriginRequest;
  readonly wanted: ImageRequest;
  readonly format: OutputFormat;
  /** Headers every answer to this request carries (nosniff, Vary, a format fallback). */
  readonly headers: Readonly<Record<string, string>>;
  /** The `server-timing` value: time since the request came in. */
  readonly timing: () => string;
  /** The hot cache's key for this key and format. */
  readonly cacheKey: string;
  /** When this request's look at the source began: what a derivative kept in memory was checked against. */
  readonly checkStartMs: number;
  /**
   * format=auto and not the client's last choice: a restore whose encoding in this format would not fit
   * its time (encode-budget.ts) passes this format over for the next.
   */
  readonly passOverSlow: boolean;
}

/** What the stored-hit step found and the restore starts from: no S3 object is asked about twice. */
export interface Found {
  /** The source's HEAD. */
  readonly source: ObjectHead;
  /** The derivative's key as this request found it (stale or none): the conditional write starts from it. */
  readonly derivative: ObjectHead | null;
}

/** A step either answers or passes on what it found. */
export const isAnswer = (value: unknown): value is OriginResponse =>
  typeof value === "object" && value !== null && typeof (value as { status?: unknown }).status === "number";
