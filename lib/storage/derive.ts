/**
 * The one "process this object" core, shared by the object-event policy (upload function, queue workers,
 * Batch Operations, backfill) and the CDN origin: given a bucket and key, decide from the headers, restore,
 * and write the derivative beside the source with one conditional PUT (multipart when large; whole or
 * nothing). Idempotent: a current derivative means no work, so duplicate and out-of-order events are
 * harmless; the write is conditional (write.ts), so of two processes racing on one object only one stores.
 * It works on the object as it is now, whatever version an event named. The steps: derive-steps.ts.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { UnjpegError } from "../errors.js";
import { deriveOnce } from "./derive-steps.js";
import type { DeriveOutcome, DeriveRequest, Deriver } from "./derive-types.js";
import { headObject, type ObjectHead } from "./s3.js";

export type {
  DecideFunction,
  DeriveOutcome,
  DeriveRequest,
  Deriver,
  DeriveSkipReason,
  HeaderTriage,
  KnownObjects,
  RestoreFunction,
  SkippedOutcome,
  WrittenOutcome,
} from "./derive-types.js";
export { type RemoveOutcome, removeDerivatives } from "./remove.js";

/**
 * The restore ran another model than the deriver's `model`. Derivatives record one tag and staleness
 * compares against the other, so writing would make every derivative stale again at once (endless
 * re-restores): a setup error, never retried into a loop.
 */
export class ModelMismatchError extends UnjpegError {
  constructor(expected: string, actual: string) {
    super(
      "MODEL_MISMATCH",
      `the restore ran model ${actual}, but derivatives are checked against ${expected}: fix the deriver's model`,
      { status: 500, publicMessage: "model configuration mismatch" },
    );
  }
}

/**
 * What the runs of this process learn about one source key while any of them is in flight: the version the
 * latest look at the source found. A run whose version a later look found replaced ends `superseded` before
 * writing, without asking S3 again; across processes the conditional write decides (derive-steps.ts).
 */
export interface SourceWatch {
  /** Makes a look at the source (a HEAD, or what a caller already saw) and numbers it: later looks, larger. */
  look(head: () => Promise<ObjectHead | null>): Promise<{ seq: number; head: ObjectHead | null }>;
  /** Whether a look begun after look `seq` (waited for, if still on its way) found another version. */
  replaced(seq: number, eTag: string | undefined): Promise<boolean>;
}

interface Watched {
  /** The latest finished look and what it found. */
  seq: number;
  eTag: string | undefined;
  /** Looks on their way, by number. */
  readonly pending: Map<number, Promise<unknown>>;
  runs: number;
}

let looks = 0;
const watchedByClient = new WeakMap<S3Client, Map<string, Watched>>();
/** Runs in progress, per S3 client (one per endpoint and process), by bucket, key, format, mode and version. */
const inFlightByClient = new WeakMap<S3Client, Map<string, Promise<DeriveOutcome>>>();

function perClient<T>(store: WeakMap<S3Client, Map<string, T>>, s3: S3Client): Map<string, T> {
  let map = store.get(s3);
  if (map === undefined) {
    map = new Map();
    store.set(s3, map);
  }
  return map;
}

/** The watch of one source key for one run; released when the run ends. */
function watchSource(s3: S3Client, bucket: string, key: string): SourceWatch & { release(): void } {
  const all = perClient(watchedByClient, s3);
  const id = `${bucket}\n${key}`;
  const entry: Watched = all.get(id) ?? { seq: 0, eTag: undefined, pending: new Map(), runs: 0 };
  entry.runs++;
  all.set(id, entry);
  return {
    async look(head) {
      const seq = ++looks;
      const found = head();
      entry.pending.set(seq, found);
      try {
        const result = await found;
        if (seq > entry.seq) Object.assign(entry, { seq, eTag: result?.eTag });
        return { seq, head: result };
      } finally {
        entry.pending.delete(seq);
      }
    },
    async replaced(seq, eTag) {
      const later = [...entry.pending].filter(([n]) => n > seq).map(([, p]) => p.catch(() => undefined));
      await Promise.all(later);
      return entry.seq > seq && entry.eTag !== eTag;
    },
    release() {
      if (--entry.runs === 0) all.delete(id);
    },
  };
}

/** A HEAD of the source, for the runs of this process that watch it (a failed look tells nothing). */
async function lookAgain(deriver: Deriver, request: DeriveRequest): Promise<void> {
  const watch = watchSource(deriver.s3, request.bucket, request.key);
  try {
    await watch.look(() => headObject(deriver.s3, request.bucket, request.key));
  } catch {
    // The run it joins decides without this look.
  } finally {
    watch.release();
  }
}

/**
 * Makes sure the object has a current derivative. Concurrent calls for the same object, format and source
 * version in this process share one run: the later ones get a `duplicate` skip and write nothing. Calls
 * about different versions (two quick uploads of one key) each run: the older one's run ends `superseded`
 * and the newer one's writes, so the newest version always gets its derivative. A call that names no
 * version asks for the object as it is now: when the run it shared ended `superseded`, it runs again.
 */
export async function deriveObject(deriver: Deriver, request: DeriveRequest): Promise<DeriveOutcome> {
  const format = request.format ?? deriver.config.format;
  const version = request.eTag ?? request.listed?.eTag ?? request.known?.source.eTag;
  const id = [request.bucket, request.key, format, request.dryRun === true, version ?? ""].join("\n");
  const inFlight = perClient(inFlightByClient, deriver.s3);
  const running = inFlight.get(id);
  if (running !== undefined) {
    const namesVersion = version !== undefined;
    // Asked about the object as it is now: one look tells the run it joins whether that is still its version.
    if (!namesVersion) await lookAgain(deriver, request);
    const first = await running;
    if (!namesVersion && first.action === "skipped" && first.reason === "superseded")
      return deriveObject(deriver, request);
    return {
      bucket: first.bucket,
      key: first.key,
      derivativeKey: first.derivativeKey,
      quality: first.quality,
      bytesRead: 0,
      action: "skipped",
      reason: "duplicate",
      message: `already being processed here (it ended: ${first.action})`,
    };
  }
  const watch = watchSource(deriver.s3, request.bucket, request.key);
  const run = deriveOnce(deriver, request, format, watch).finally(() => {
    inFlight.delete(id);
    watch.release();
  });
  inFlight.set(id, run);
  return run;
}
