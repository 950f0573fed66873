/**
 * The SQS worker loop (`unjpeg worker`, the container image's entry point on GPU platforms): long-polls,
 * runs at most `concurrency` messages at once, keeps each message invisible while it is being worked on
 * (restores can outlast any fixed visibility timeout), deletes it on success and leaves failures to the
 * queue's redrive policy (they reappear after the timeout, then go to the dead-letter queue).
 */
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { classifyFailure } from "../storage/failure.js";
import { abortableSleep } from "../storage/retry.js";

/** The slice of the SDK client the worker uses: tests pass a fake with the same `send`. */
export type SqsSend = Pick<SQSClient, "send">;

export interface WorkerMessage {
  readonly messageId: string;
  readonly body: string;
  /** How many times SQS has handed this message out (1 the first time). */
  readonly receiveCount: number;
}

/** Handles one message; resolving means done (delete it), throwing means leave it to redrive. */
export type MessageHandler = (message: WorkerMessage, signal: AbortSignal) => Promise<string | undefined>;

export interface WorkerOptions {
  readonly sqs: SqsSend;
  readonly queueUrl: string;
  readonly handle: MessageHandler;
  readonly concurrency: number;
  /** Visibility a message gets at receipt and at each extension (default 120 s). */
  readonly visibilitySeconds?: number;
  /** Extend when this much of the visibility is left (default: a third of it). */
  readonly extendBeforeSeconds?: number;
  /** Long-poll wait (default 20 s, the SQS maximum). */
  readonly waitSeconds?: number;
  /** Stop taking messages once this many were handled (tests, one-shot drains); default: forever. */
  readonly maxMessages?: number;
  /** Stop when a receive comes back empty (drain the queue, then exit). */
  readonly exitWhenEmpty?: boolean;
  /** Aborting stops receiving; messages in flight finish (a second, `hardStop`, abandons them). */
  readonly signal?: AbortSignal;
  /** Abandons in-flight messages: they are made visible again at once, for another worker. */
  readonly hardStop?: AbortSignal;
  readonly log?: (line: string) => void;
}

export interface WorkerStats {
  received: number;
  succeeded: number;
  failed: number;
  extensions: number;
  abandoned: number;
}

/** SQS caps a message's total invisibility at 12 hours from its first receipt. */
const MAX_VISIBILITY_SECONDS = 12 * 60 * 60;

export async function runWorker(options: WorkerOptions): Promise<WorkerStats> {
  const { sqs, queueUrl } = options;
  const visibility = options.visibilitySeconds ?? 120;
  const extendBefore = options.extendBeforeSeconds ?? Math.max(1, Math.floor(visibility / 3));
  const log = options.log ?? (() => {});
  const stop = options.signal ?? new AbortController().signal;
  const hardStop = options.hardStop ?? new AbortController().signal;
  const stats: WorkerStats = { received: 0, succeeded: 0, failed: 0, extensions: 0, abandoned: 0 };
  const running = new Set<Promise<void>>();
  let backoffMs = 0;

  const process = async (message: Message): Promise<void> => {
    const receipt = message.ReceiptHandle!;
    const started = Date.now();
    const controller = new AbortController();
    const signal = AbortSignal.any([controller.signal, hardStop]);
    // Heartbeat: push the timeout out again before it runs out, while the work goes on.
    let held = visibility;
    const timer = setInterval(
      () => {
        const elapsed = (Date.now() - started) / 1000;
        if (elapsed + visibility > MAX_VISIBILITY_SECONDS) return;
        held = Math.ceil(elapsed) + visibility;
        sqs
          .send(
            new ChangeMessageVisibilityCommand({
              QueueUrl: queueUrl,
              ReceiptHandle: receipt,
              VisibilityTimeout: visibility,
            }),
          )
          .then(
            () => void stats.extensions++,
            (error: unknown) =>
              log(`message ${message.MessageId}: visibility not extended: ${String(error)}`),
          );
      },
      Math.max(100, (visibility - extendBefore) * 1000),
    );
    try {
      const summary = await options.handle(
        {
          messageId: message.MessageId ?? "",
          body: message.Body ?? "",
          receiveCount: Number(message.Attributes?.ApproximateReceiveCount ?? "1"),
        },
        signal,
      );
      clearInterval(timer);
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: receipt }));
      stats.succeeded++;
      log(`message ${message.MessageId}: done${summary ? `: ${summary}` : ""}`);
    } catch (error) {
      clearInterval(timer);
      if (hardStop.aborted) {
        stats.abandoned++;
        // Back in the queue now rather than after the visibility timeout.
        await sqs
          .send(
            new ChangeMessageVisibilityCommand({
              QueueUrl: queueUrl,
              ReceiptHandle: receipt,
              VisibilityTimeout: 0,
            }),
          )
          .catch(() => undefined);
        log(`message ${message.MessageId}: abandoned at shutdown, returned to the queue`);
        return;
      }
      stats.failed++;
      const failure = classifyFailure(error);
      log(
        `message ${message.MessageId}: failed (${failure.kind}, ${failure.code}): ${failure.message}; left to redrive (visible again within ${held} s)`,
      );
    } finally {
      controller.abort();
    }
  };

  while (!stop.aborted && !hardStop.aborted) {
    if (options.maxMessages !== undefined && stats.received >= options.maxMessages) break;
    if (running.size >= options.concurrency) {
      await Promise.race(running);
      continue;
    }
    let want = Math.min(10, options.concurrency - running.size);
    if (options.maxMessages !== undefined) want = Math.min(want, options.maxMessages - stats.received);
    let messages: Message[];
    try {
      const answer = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: want,
          WaitTimeSeconds: options.waitSeconds ?? 20,
          VisibilityTimeout: visibility,
          MessageSystemAttributeNames: ["ApproximateReceiveCount"],
        }),
        { abortSignal: stop },
      );
      messages = answer.Messages ?? [];
      backoffMs = 0;
    } catch (error) {
      if (stop.aborted) break;
      // The queue is unreachable or throttling: back off (capped) and poll again; work in flight goes on.
      backoffMs = Math.min(30_000, Math.max(500, backoffMs * 2));
      log(`receive failed: ${classifyFailure(error).message}; retrying in ${backoffMs} ms`);
      await abortableSleep(backoffMs, stop);
      continue;
    }
    if (messages.length === 0) {
      if (options.exitWhenEmpty && running.size === 0) break;
      // A short poll came back empty: wait a little (or for a slot) rather than ask again at once.
      if ((options.waitSeconds ?? 20) < 1) await Promise.race([...running, abortableSleep(200, stop)]);
    }
    for (const message of messages) {
      stats.received++;
      const task: Promise<void> = process(message).finally(() => running.delete(task));
      running.add(task);
    }
  }
  await Promise.all(running);
  return stats;
}
