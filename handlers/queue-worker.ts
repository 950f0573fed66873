/**
 * The queue worker as a Lambda (SQS event source, middy): each message is an S3 event notification or an
 * EventBridge event (the one message shape), handled by the same loop as the upload function
 * (lib/storage/upload.ts, the one object-event policy): successes and skips are deleted by Lambda; failures
 * are returned as partial batch failures (enable ReportBatchItemFailures) and left to the queue's redrive
 * policy. Set the queue's visibility timeout above the function timeout: Lambda does not extend it
 * (`unjpeg worker` does).
 */
import middy from "@middy/core";
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { UnjpegError } from "../lib/errors.js";
import type { Deriver } from "../lib/storage/derive.js";
import { type LineSink, stdoutSink } from "../lib/storage/report.js";
import { handleUploadEvent } from "../lib/storage/upload.js";
import { builtOnce, invocationDeadline } from "./invocation.js";

const DEADLINE_MARGIN_MS = 15_000;

export function createQueueHandler(
  deriver: Deriver | (() => Promise<Deriver>),
  options: { readonly sink?: LineSink } = {},
) {
  const getDeriver = builtOnce(deriver);
  return middy({ timeoutEarlyInMillis: 2_000 }).handler(
    async (raw: unknown, context: Context, { signal }): Promise<SQSBatchResponse> => {
      const event = raw as SQSEvent;
      if (!Array.isArray(event?.Records)) {
        throw new UnjpegError("EVENT_INVALID", "the queue worker takes SQS events", { status: 400 });
      }
      const deadline = invocationDeadline(context, signal, DEADLINE_MARGIN_MS);
      const sqsEvent = {
        Records: event.Records.map((record) => ({ ...record, eventSource: "aws:sqs" })),
      };
      const result = await handleUploadEvent(await getDeriver(), sqsEvent, {
        sink: options.sink ?? stdoutSink,
        service: "queue-worker",
        signal: deadline,
      });
      return { batchItemFailures: result.failed.map((itemIdentifier) => ({ itemIdentifier })) };
    },
  );
}

export const handler = createQueueHandler(async () =>
  (await import("../lib/storage/deriver.js")).deriverFromEnvironment(),
);
