/**
 * Restore on upload (Lambda, middy). Accepts S3 event notifications, EventBridge "Object Created" /
 * "Object Deleted" events, and SQS messages carrying either; only translates them into lib/ calls. SQS
 * batches answer with partial batch failures (enable ReportBatchItemFailures on the event source mapping),
 * so one bad message neither fails nor repeats the others.
 */
import middy from "@middy/core";
import type { Context, SQSBatchResponse } from "aws-lambda";
import type { Deriver } from "../lib/storage/derive.js";
import { type LineSink, stdoutSink } from "../lib/storage/report.js";
import { handleUploadEvent, invocationAnswer } from "../lib/storage/upload.js";

export { UploadBatchError } from "../lib/storage/upload.js";

import { builtOnce, invocationDeadline } from "./invocation.js";

/** Stop starting work this long before Lambda's deadline, so unfinished messages are reported, not lost. */
const DEADLINE_MARGIN_MS = 15_000;

export interface UploadHandlerOptions {
  readonly sink?: LineSink;
  /** Units (SQS messages or records) processed at once (default 1). */
  readonly concurrency?: number;
}

/**
 * The handler, for any way of building its core: Lambda (below) builds it from the environment at cold
 * start; the local stack builds it from its own settings and calls this same function.
 */
export function createUploadHandler(
  deriver: Deriver | (() => Promise<Deriver>),
  options: UploadHandlerOptions = {},
) {
  const getDeriver = builtOnce(deriver);
  return middy({ timeoutEarlyInMillis: 2_000 }).handler(
    async (event: unknown, context: Context, { signal }): Promise<SQSBatchResponse | undefined> => {
      const deadline = invocationDeadline(context, signal, DEADLINE_MARGIN_MS);
      const result = await handleUploadEvent(await getDeriver(), event, {
        sink: options.sink ?? stdoutSink,
        signal: deadline,
        concurrency: options.concurrency,
      });
      return invocationAnswer(result);
    },
  );
}

/**
 * The Lambda entry point. Configuration, S3 client and model are loaded once per container, on the first
 * event; a configuration problem fails each invocation with the one message that lists every problem.
 */
export const handler = createUploadHandler(async () =>
  (await import("../lib/storage/deriver.js")).deriverFromEnvironment(),
);
