/**
 * What a queued message means: each object event in it (S3 notification or EventBridge, the one message
 * shape of docs/CONTRACTS.md) is derived or, for removals, has its derivatives deleted. Shared by the
 * `unjpeg worker` loop and the queue-worker Lambda.
 */
import { BulkFailure, bulkResultOf } from "../backfill/outcome.js";
import { type Deriver, deriveObject, removeDerivatives } from "../storage/derive.js";
import { objectEventsFromMessageText } from "../storage/events.js";

export interface MessageOptions {
  /** Redo derivatives made by another model or from an older source (default true, like uploads). */
  readonly redoStale?: boolean;
}

/**
 * Handles one message body; resolves with a one-line summary, or throws (the message then stays for the
 * queue's redrive policy: a malformed body, a corrupt image or a foreign object on the derivative key end
 * in the dead-letter queue for an operator, transient errors are retried).
 */
export async function handleMessageBody(
  deriver: Deriver,
  body: string,
  signal: AbortSignal,
  options: MessageOptions = {},
): Promise<string> {
  const events = objectEventsFromMessageText(body);
  if (events.length === 0) return "no object events (test event)";
  const lines: string[] = [];
  for (const event of events) {
    signal.throwIfAborted();
    const where = `s3://${event.bucket}/${event.key}`;
    if (event.change === "removed") {
      const removed = await removeDerivatives(deriver, event);
      lines.push(
        `${where}: ${removed.action === "deleted" ? `deleted ${removed.deleted.length} derivative(s)` : `kept (${removed.reason})`}`,
      );
    } else if (event.change === "created") {
      const outcome = await deriveObject(deriver, {
        bucket: event.bucket,
        key: event.key,
        eTag: event.eTag,
        redoStale: options.redoStale ?? true,
        signal,
      });
      const result = bulkResultOf(outcome);
      if (result.status === "failed")
        throw new BulkFailure(result.reason ?? "failed", `${where}: ${result.summary}`);
      lines.push(`${where}: ${result.summary}`);
    } else {
      lines.push(`${where}: ignored ${event.name}`);
    }
  }
  return lines.join("; ");
}
