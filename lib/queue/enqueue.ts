/**
 * `unjpeg enqueue`: fans a listing out to a queue as S3 event notification messages (one record per
 * message, ten messages per SendMessageBatch), the same shape S3 itself sends, so the queue worker and
 * the upload handler read one format.
 */
import { SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { UnjpegError } from "../errors.js";
import { encodeEventKey } from "../storage/keys.js";
import type { ListedObject } from "../storage/listing.js";
import { type RetryOptions, withRetry } from "../storage/retry.js";

/** An S3 event notification body for one existing object, as S3 writes it for `ObjectCreated:Put`. */
export function objectCreatedMessage(object: ListedObject, now: Date = new Date()): string {
  return JSON.stringify({
    Records: [
      {
        eventVersion: "2.1",
        eventSource: "aws:s3",
        eventTime: now.toISOString(),
        // Not a real upload: named so logs can tell a backfill from user traffic.
        eventName: "ObjectCreated:Put",
        userIdentity: { principalId: "unjpeg-enqueue" },
        s3: {
          s3SchemaVersion: "1.0",
          configurationId: "unjpeg-enqueue",
          bucket: { name: object.bucket, arn: `arn:aws:s3:::${object.bucket}` },
          object: {
            key: encodeEventKey(object.key),
            ...(object.size === undefined ? {} : { size: object.size }),
            ...(object.etag === undefined ? {} : { eTag: object.etag }),
            ...(object.versionId === undefined ? {} : { versionId: object.versionId }),
          },
        },
      },
    ],
  });
}

export interface EnqueueStats {
  sent: number;
  batches: number;
}

export class EnqueueError extends UnjpegError {
  constructor(message: string) {
    super("ENQUEUE_FAILED", message, { status: 502 });
  }
}

/**
 * Sends every object as one message. Entries SQS refuses in a batch are resent (with backoff) while the
 * refusal is the sender's fault; a permanent refusal stops the run with the keys it concerned.
 */
export async function enqueueObjects(
  sqs: Pick<SQSClient, "send">,
  queueUrl: string,
  objects: AsyncIterable<ListedObject> | Iterable<ListedObject>,
  options: { retry?: RetryOptions; onBatch?: (stats: EnqueueStats) => void; signal?: AbortSignal } = {},
): Promise<EnqueueStats> {
  const stats: EnqueueStats = { sent: 0, batches: 0 };
  let batch: { Id: string; MessageBody: string }[] = [];
  const flush = async (): Promise<void> => {
    let entries = batch;
    batch = [];
    await withRetry(
      async () => {
        const answer = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
        const failed = answer.Failed ?? [];
        stats.sent += entries.length - failed.length;
        if (failed.length === 0) return;
        const permanent = failed.filter((f) => f.SenderFault === true);
        if (permanent.length > 0) {
          throw new EnqueueError(
            `SQS refused ${permanent.length} message(s): ${permanent.map((f) => `${f.Code}: ${f.Message}`).join("; ")}`,
          );
        }
        const ids = new Set(failed.map((f) => f.Id));
        entries = entries.filter((e) => ids.has(e.Id));
        throw Object.assign(new Error(`${failed.length} message(s) not accepted yet`), { retryable: true });
      },
      { ...options.retry, signal: options.signal },
    );
    stats.batches++;
    options.onBatch?.(stats);
  };
  for await (const object of objects) {
    if (options.signal?.aborted) break;
    batch.push({ Id: String(batch.length), MessageBody: objectCreatedMessage(object) });
    if (batch.length === 10) await flush();
  }
  if (batch.length > 0) await flush();
  return stats;
}
