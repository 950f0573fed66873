/**
 * The origin's schedule/pending step: no current derivative was found, so the source is restored in one of
 * this process's slots (shared by concurrent requests for one source version and format), or, when the
 * answer is due before the restore can finish, handed off (the restore queue, or on in the background)
 * while the original is served as pending.
 */
import type { OutputFormat } from "../config.js";
import type { HeaderTriage } from "../storage/derive-types.js";
import { type EncodeRates, encodeFits, observeEncode, SEEDED_ENCODE_RATES } from "./encode-budget.js";
import { timedOut } from "./errors.js";
import { type PendingState, within } from "./hand-off.js";
import { createLimiter, singleFlight } from "./limiter.js";
import type { FormatAsk, Found, OriginParts } from "./origin-parts.js";
import { servePending } from "./origin-serve.js";
import { judgeRestore, observeRestore, type RestoreRate, SEEDED_RATE } from "./restore-estimate.js";
import type { ObjectHead, OriginDerive, OriginResponse } from "./types.js";

/** One restore asked of the slots: the source, what the request found and triaged, and its pixels. */
interface RestoreAsk extends Found {
  readonly key: string;
  readonly format: OutputFormat;
  readonly triage: HeaderTriage | null;
  readonly signal?: AbortSignal;
  /** The triage's pixel count: a finished restore teaches the rate. */
  readonly pixels?: number;
}

/** This process's restore slots and what it learnt of their speed. */
export interface Restores {
  /** Restores the source in a slot (concurrent asks for one version and format share one run). */
  run(asked: RestoreAsk): Promise<OriginDerive>;
  /** A restore missed its answer: it goes on here, or is abandoned and sent to the queue when there is one. */
  handOff(key: string, source: ObjectHead, format: OutputFormat, estimatedMs?: number): Promise<PendingState>;
  /** The restore speed now: seeded, then learnt from each restore completed here. */
  rate(): RestoreRate;
  /** The encode speed per format (search included), seeded and learnt the same way. */
  encodeRates(): EncodeRates;
}

const flightKey = (key: string, source: ObjectHead, format: OutputFormat): string =>
  `${format}\u0000${source.eTag ?? ""}\u0000${key}`;

export function createRestores(parts: OriginParts): Restores {
  const { options, store, clockMs } = parts;
  const limiter = createLimiter({ concurrency: options.concurrency ?? 1, maxQueued: options.maxQueued ?? 8 });
  const shared = singleFlight<OriginDerive>();
  const restoreTimeoutMs = options.restoreTimeoutMs ?? 300_000;
  /** Restores in flight by flight key, to abandon one that was handed off (it then writes nothing). */
  const restoring = new Map<string, AbortController>();
  let rate: RestoreRate = options.restoreRate ?? SEEDED_RATE;
  let encodeRates: EncodeRates = options.encodeRates ?? SEEDED_ENCODE_RATES;

  const run = (asked: RestoreAsk): Promise<OriginDerive> => {
    const { key, source, derivative, triage, format, signal, pixels } = asked;
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
            const outcome = await store.derive({ key, format, signal: combined, source, derivative, triage });
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

  const handOff = async (
    key: string,
    source: ObjectHead,
    format: OutputFormat,
    estimatedMs?: number,
  ): Promise<PendingState> => {
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
      parts.pending.set(flight, state, clockMs());
    }
    const extra = {
      ...(error === undefined ? {} : { error }),
      ...(estimatedMs === undefined ? {} : { estimatedMs }),
    };
    options.onPending?.({ key, format, state, ...extra });
    return state;
  };

  return { run, handOff, rate: () => rate, encodeRates: () => encodeRates };
}

/**
 * Schedule/pending: a source handed off lately answers pending at once; a restore estimated (from the
 * triage's pixels) to outlast the wait is handed off before it starts; otherwise the request waits for it
 * until the answer is due (the backstop for estimates that were too low). Passes on the restore's outcome;
 * null (format=auto, not the last choice) when this format's encoding would not fit the restore's time.
 */
export async function scheduleRestore(
  parts: OriginParts,
  restores: Restores,
  ask: FormatAsk,
  found: Found,
): Promise<OriginResponse | OriginDerive | null> {
  const { options, store, clockMs } = parts;
  const { request, wanted, format } = ask;
  const { key } = wanted;
  const { source } = found;
  const known = parts.pending.get(flightKey(key, source, format), clockMs());
  if (known !== undefined) return servePending(parts, ask, source, known);
  const dueAt = Math.min(
    clockMs() + (options.pendingAfterMs ?? Number.POSITIVE_INFINITY),
    request.answerBy ?? Number.POSITIVE_INFINITY,
  );
  // The one triage of this source version: the estimate is made from it, and the restore takes it over.
  const triage =
    store.triage !== undefined && ((Number.isFinite(dueAt) && dueAt > clockMs()) || ask.passOverSlow)
      ? await store.triage(source, format).catch(() => null)
      : null;
  const decision = triage?.decision;
  if (
    ask.passOverSlow &&
    decision?.action === "restore" &&
    !encodeFits(format, decision.width * decision.height, restores.encodeRates(), restores.rate())
  )
    return null;
  const { pixels, estimatedMs } = judgeRestore(triage?.decision ?? null, restores.rate(), dueAt - clockMs());
  const asked = { key, ...found, triage, format, pixels };
  let outcome: OriginDerive | undefined;
  if (estimatedMs !== undefined) {
    // A long-running process restores it anyway, in the background (the request does not wait).
    if (options.background === true) restores.run(asked).catch(() => {});
  } else if (dueAt - clockMs() > 0) {
    const flight = restores.run({ ...asked, signal: request.signal });
    outcome = await within(flight, dueAt - clockMs());
    if (outcome === undefined) flight.catch(() => {}); // its end is no longer this request's business
  }
  if (outcome !== undefined) return outcome;
  const state = await restores.handOff(key, source, format, estimatedMs);
  return servePending(parts, ask, source, state);
}
