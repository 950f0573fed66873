/**
 * The backfill loop, independent of S3 and of the model: objects in, outcomes journaled, a report out.
 * The caller supplies the object source (a listing or a manifest) and `process` (triage + restore +
 * write of one object); this module owns filtering, resume, bounded concurrency, retries and counting.
 */

import { classifyFailure } from "../storage/failure.js";
import { type RetryOptions, withRetry } from "../storage/retry.js";
import { isDone, type Journal, type JournalEntry } from "./journal.js";
import type { ListedObject } from "./manifest.js";
import { forEachConcurrent } from "./pool.js";
import { countOutcome, emptyCounts, type ProgressCounts } from "./progress.js";

export interface ProcessResult {
  readonly outcome: "restored" | "skipped" | "would-restore";
  /** Why it was skipped (`high-quality`, `not-jpeg`, `current`, ...). */
  readonly reason?: string;
  readonly quality?: number | null;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  /** Size of a source a dry run would restore (its cost estimate). */
  readonly sourceBytes?: number;
}

/** Triage, restore and write one object. Throws on failure; temporary failures are retried. */
export type ProcessObject = (object: ListedObject, signal: AbortSignal) => Promise<ProcessResult>;

export interface BackfillRun {
  /** `s3://bucket/prefix` or `manifest:<path>`: what the report and the state file name. */
  readonly source: string;
  readonly objects: AsyncIterable<ListedObject> | Iterable<ListedObject>;
  readonly process: ProcessObject;
  readonly journal: Journal;
  readonly concurrency: number;
  readonly dryRun?: boolean;
  /** Include/exclude/since; false leaves an object out. */
  readonly filter?: (object: ListedObject) => boolean;
  /** Keys that are derivatives by name are never sources: left out before any request. */
  readonly isDerivativeKey?: (key: string) => boolean;
  readonly retry?: RetryOptions;
  /** Aborting stops taking new objects and abandons those in flight (they are redone on resume). */
  readonly signal?: AbortSignal;
  /** Shared with the progress display. */
  readonly counts?: ProgressCounts;
  readonly now?: () => number;
}

export interface FailureRecord {
  readonly key: string;
  readonly versionId?: string;
  readonly kind: "temporary" | "permanent";
  readonly code: string;
  readonly message: string;
}

export interface BackfillReport {
  readonly source: string;
  readonly dryRun: boolean;
  readonly state: string | null;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly wallSeconds: number;
  /** Stopped early (signal): rerun with the same state file to finish. */
  readonly interrupted: boolean;
  /** This run. */
  readonly run: {
    readonly listed: number;
    readonly filtered: number;
    readonly derivatives: number;
    readonly alreadyDone: number;
    readonly processed: number;
    readonly restored: number;
    readonly skipped: number;
    readonly wouldRestore: number;
    readonly failed: number;
    readonly retries: number;
    readonly bytesRead: number;
    readonly bytesWritten: number;
    readonly objectsPerSecond: number;
  };
  /** Every object in the state file (all runs so far), by outcome. */
  readonly total: {
    readonly restored: number;
    readonly skipped: number;
    readonly failed: number;
    readonly skippedBy: Readonly<Record<string, number>>;
    readonly failedBy: Readonly<Record<string, number>>;
  };
  /** Dry run: what a real run would cost. */
  readonly estimate?: { readonly restores: number; readonly sourceBytes: number };
  /** Failed objects with reasons (the first 1,000; `failuresOmitted` says how many more). */
  readonly failures: readonly FailureRecord[];
  readonly failuresOmitted: number;
}

const MAX_REPORTED_FAILURES = 1000;

export async function runBackfill(run: BackfillRun): Promise<BackfillReport> {
  const now = run.now ?? Date.now;
  const started = now();
  const counts = run.counts ?? emptyCounts();
  const journal = run.journal;
  const signal = run.signal ?? new AbortController().signal;
  let derivatives = 0;
  let bytesToRestore = 0;

  async function* candidates(): AsyncGenerator<ListedObject> {
    for await (const object of run.objects) {
      counts.listed++;
      if (run.isDerivativeKey?.(object.key)) {
        derivatives++;
        counts.filtered++;
      } else if (run.filter !== undefined && !run.filter(object)) {
        counts.filtered++;
      } else if (
        isDone(journal.entries, { key: object.key, versionId: object.versionId, etag: object.etag })
      ) {
        counts.alreadyDone++;
      } else {
        yield object;
      }
      if (signal.aborted) return;
    }
    counts.listingDone = true;
  }

  async function handle(object: ListedObject): Promise<void> {
    counts.inFlight++;
    const began = now();
    let entry: JournalEntry;
    try {
      const result = await withRetry(() => run.process(object, signal), {
        ...run.retry,
        signal,
        onRetry: (failure, attempt, delay) => {
          counts.retries++;
          run.retry?.onRetry?.(failure, attempt, delay);
        },
      });
      counts.bytesRead += result.bytesRead;
      counts.bytesWritten += result.bytesWritten;
      if (result.outcome === "would-restore") bytesToRestore += result.sourceBytes ?? 0;
      entry = {
        k: object.key,
        ...(object.versionId === undefined ? {} : { v: object.versionId }),
        ...(object.etag === undefined ? {} : { e: object.etag }),
        o: result.outcome,
        ...(result.reason === undefined ? {} : { r: result.reason }),
        ...(result.quality === undefined ? {} : { q: result.quality }),
        br: result.bytesRead,
        bw: result.bytesWritten,
        ms: now() - began,
      };
    } catch (error) {
      // Abandoned, not failed: it was in flight when the run stopped, and is redone on resume.
      if (signal.aborted) {
        counts.inFlight--;
        return;
      }
      const failure = classifyFailure(error);
      entry = {
        k: object.key,
        ...(object.versionId === undefined ? {} : { v: object.versionId }),
        ...(object.etag === undefined ? {} : { e: object.etag }),
        o: "failed",
        r: failure.code,
        f: failure.kind,
        m: failure.message.slice(0, 500),
        ms: now() - began,
      };
    }
    // Counted only once journaled: a crash before this line means the object is redone, never lost.
    await journal.append(entry);
    counts.inFlight--;
    countOutcome(counts, entry.o);
  }

  let interrupted = false;
  try {
    await forEachConcurrent(candidates(), run.concurrency, handle, signal);
  } finally {
    interrupted = signal.aborted;
  }
  const finished = now();
  return buildReport({
    run,
    counts,
    derivatives,
    started,
    finished,
    interrupted,
    bytesToRestore,
  });
}

function failureOf(entry: JournalEntry): FailureRecord {
  return {
    key: entry.k,
    ...(entry.v === undefined ? {} : { versionId: entry.v }),
    kind: entry.f ?? "permanent",
    code: entry.r ?? "UNKNOWN",
    message: entry.m ?? "",
  };
}

function buildReport(args: {
  run: BackfillRun;
  counts: ProgressCounts;
  derivatives: number;
  started: number;
  finished: number;
  interrupted: boolean;
  bytesToRestore: number;
}): BackfillReport {
  const { run, counts, started, finished } = args;
  const skippedBy: Record<string, number> = {};
  const failedBy: Record<string, number> = {};
  const failures: FailureRecord[] = [];
  let restored = 0;
  let skipped = 0;
  let failed = 0;
  for (const entry of run.journal.entries.values()) {
    if (entry.o === "restored") restored++;
    else if (entry.o === "skipped") {
      skipped++;
      const reason = entry.r ?? "unknown";
      skippedBy[reason] = (skippedBy[reason] ?? 0) + 1;
    } else if (entry.o === "failed") {
      failed++;
      failures.push(failureOf(entry));
    }
  }
  for (const failure of failures) failedBy[failure.code] = (failedBy[failure.code] ?? 0) + 1;
  const wallSeconds = (finished - started) / 1000;
  const processed = counts.restored + counts.skipped + counts.wouldRestore + counts.failed;
  return {
    source: run.source,
    dryRun: run.dryRun === true,
    state: run.journal.path,
    startedAt: new Date(started).toISOString(),
    finishedAt: new Date(finished).toISOString(),
    wallSeconds,
    interrupted: args.interrupted,
    run: {
      listed: counts.listed,
      filtered: counts.filtered - args.derivatives,
      derivatives: args.derivatives,
      alreadyDone: counts.alreadyDone,
      processed,
      restored: counts.restored,
      skipped: counts.skipped,
      wouldRestore: counts.wouldRestore,
      failed: counts.failed,
      retries: counts.retries,
      bytesRead: counts.bytesRead,
      bytesWritten: counts.bytesWritten,
      objectsPerSecond: wallSeconds > 0 ? Math.round((processed / wallSeconds) * 10) / 10 : 0,
    },
    total: { restored, skipped, failed, skippedBy, failedBy },
    ...(run.dryRun
      ? {
          estimate: {
            restores: counts.wouldRestore,
            sourceBytes: args.bytesToRestore,
          },
        }
      : {}),
    failures: failures.slice(0, MAX_REPORTED_FAILURES),
    failuresOmitted: Math.max(0, failures.length - MAX_REPORTED_FAILURES),
  };
}
