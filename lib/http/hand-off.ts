/**
 * Restores that cannot finish before an answer is due (a large image near Lambda's deadline) are not
 * refused: the viewer gets the original at once with a short Cache-Control, and the restore goes on
 * elsewhere: in this process when it outlives requests (the local stack), or on the restore queue
 * (`UNJPEG_RESTORE_QUEUE_URL`, the queue the upload function and `unjpeg worker` drain), so a later request
 * finds the stored derivative.
 */
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { ObjectHead } from "./types.js";

/**
 * `restoring`: still running in this process; `queued`: sent to the restore queue; `not-queued`: no queue
 * is configured (or sending failed), so nothing will restore it until a request can wait long enough.
 */
export type PendingState = "restoring" | "queued" | "not-queued";

/** Sends one source to be restored elsewhere; throws when it could not be sent. */
export type HandOff = (source: ObjectHead) => Promise<void>;

/**
 * A hand-off to the restore queue: one S3 event notification message per source, the shape `unjpeg
 * enqueue` writes and the queue worker reads (docs/CONTRACTS.md, Messages). The SQS client is created on
 * first use (no SDK load on a container that never needs it).
 */
export function queueHandOff(
  queueUrl: string,
  bucket: string,
  sqs?: () => Promise<Pick<SQSClient, "send">>,
): HandOff {
  let client: Promise<Pick<SQSClient, "send">> | undefined;
  const getClient =
    sqs ??
    (async () => {
      const { createSqsClient, regionOfQueueUrl } = await import("../queue/sqs.js");
      const region = regionOfQueueUrl(queueUrl);
      return createSqsClient(region === undefined ? {} : { region });
    });
  return async (source) => {
    client ??= getClient();
    const { enqueueObjects } = await import("../queue/enqueue.js");
    await enqueueObjects(
      await client,
      queueUrl,
      [
        {
          bucket,
          key: source.key,
          size: source.size,
          ...(source.eTag === undefined ? {} : { etag: source.eTag }),
          ...(source.versionId === undefined ? {} : { versionId: source.versionId }),
        },
      ],
      // A viewer is waiting: one quick retry, then the answer says the restore was not queued.
      { retry: { attempts: 2, baseMs: 100 } },
    );
  };
}

/** The task's value, or `undefined` once `ms` have passed first (the task itself goes on). */
export async function within<T>(task: Promise<T>, ms: number): Promise<T | undefined> {
  if (!Number.isFinite(ms)) return task;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, ms), undefined);
  });
  try {
    return await Promise.race([task, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Sources recently handed off, so that requests in the meantime answer at once instead of starting the
 * same too-long restore again; forgotten after `ttlMs` (then a request tries again), oldest first past
 * `maxEntries`.
 */
export function createPendingMemory(ttlMs: number, maxEntries = 1_000) {
  const entries = new Map<string, { state: PendingState; until: number }>();
  return {
    get(key: string, nowMs: number): PendingState | undefined {
      const entry = entries.get(key);
      if (entry === undefined) return undefined;
      if (entry.until > nowMs) return entry.state;
      entries.delete(key);
      return undefined;
    },
    set(key: string, state: PendingState, nowMs: number): void {
      entries.delete(key);
      entries.set(key, { state, until: nowMs + ttlMs });
      for (const [oldest] of entries) {
        if (entries.size <= maxEntries) break;
        entries.delete(oldest);
      }
    },
  };
}
