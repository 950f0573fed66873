/**
 * The queue worker as a Lambda (SQS event source, middy): each message is an S3 event notification or an
 * EventBridge event (the one message shape). Successes are deleted by Lambda; failures are returned as
 * partial batch failures (enable ReportBatchItemFailures) and left to the queue's redrive policy. Set the
 * queue's visibility timeout above the function timeout: Lambda does not extend it (`unjpeg worker` does).
 */
import middy from "@middy/core";
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { UnjpegError } from "../lib/errors.js";
import { handleMessageBody } from "../lib/queue/handle.js";
import type { Deriver } from "../lib/storage/derive.js";
import { classifyFailure } from "../lib/storage/retry.js";
import { builtOnce, invocationDeadline } from "./invocation.js";

const DEADLINE_MARGIN_MS = 15_000;

export function createQueueHandler(deriver: Deriver | (() => Promise<Deriver>)) {
  const getDeriver = builtOnce(deriver);
  return middy({ timeoutEarlyInMillis: 2_000 }).handler(
    async (raw: unknown, context: Context, { signal }): Promise<SQSBatchResponse> => {
      const event = raw as SQSEvent;
      if (!Array.isArray(event?.Records)) {
        throw new UnjpegError("EVENT_INVALID", "the queue worker takes SQS events", { status: 400 });
      }
      const deadline = invocationDeadline(context, signal, DEADLINE_MARGIN_MS);
      const core = await getDeriver();
      const failed: string[] = [];
      for (const record of event.Records) {
        if (deadline.aborted) {
          failed.push(record.messageId);
          continue;
        }
        try {
          const summary = await handleMessageBody(core, record.body, deadline);
          process.stdout.write(`${JSON.stringify({ messageId: record.messageId, done: summary })}\n`);
        } catch (error) {
          const failure = classifyFailure(error);
          process.stdout.write(`${JSON.stringify({ messageId: record.messageId, failed: failure })}\n`);
          failed.push(record.messageId);
        }
      }
      return { batchItemFailures: failed.map((itemIdentifier) => ({ itemIdentifier })) };
    },
  );
}

export const handler = createQueueHandler(async () =>
  (await import("../lib/storage/deriver.js")).deriverFromEnvironment(),
);
