/**
 * What a queued message means for `unjpeg worker`: each object event in it (S3 notification or EventBridge,
 * the one message shape of docs/CONTRACTS.md) goes through the one object-event policy. A skip (a corrupt
 * or high-quality image) is done with; a failure, temporary or permanent, leaves the message to the
 * queue's redrive policy (retried, then dead-lettered after the receive limit).
 */
import type { Deriver } from "../storage/derive.js";
import { objectEventsFromMessageText } from "../storage/events.js";
import { EventFailedError, handleObjectEvent, summaryOf } from "../storage/object-event.js";

export interface MessageOptions {
  /** Redo derivatives made by another model or from an older source (default true, like uploads). */
  readonly redoStale?: boolean;
}

/**
 * Handles one message body; resolves with a one-line summary, or throws (the message then stays for the
 * queue's redrive policy): an EventFailedError carrying the failure's classification, or an
 * EventFormatError for a body that is no object event message (permanent).
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
    const where = `s3://${event.bucket}/${event.key}`;
    const result = await handleObjectEvent(deriver, event, { signal, redoStale: options.redoStale ?? true });
    if (result.failure !== undefined) throw new EventFailedError(result.failure, where);
    lines.push(`${where}: ${summaryOf(result)}`);
  }
  return lines.join("; ");
}
