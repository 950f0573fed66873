/**
 * S3 Batch Operations "Invoke AWS Lambda function" (schema 1.0 or 2.0; Lambda, middy). One result per
 * task: Succeeded (restored, or nothing to do and why), TemporaryFailure (throttling, 5xx, out of time:
 * S3 retries it) or PermanentFailure (bad input: corrupt image, missing object), with a result string
 * that the job's completion report shows. Job user arguments (2.0): `format`, `force`, `redoStale`.
 */
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import {
  type BatchResponse,
  type BatchTaskResult,
  batchResponse,
  parseBatchInvocation,
  resultOfError,
  resultOfOutcome,
} from "../lib/backfill/batch.js";
import { OUTPUT_FORMATS, type OutputFormat } from "../lib/config.js";
import { type Deriver, deriveObject } from "../lib/storage/derive.js";
import { builtOnce, invocationDeadline } from "./invocation.js";

/** Stop starting tasks this long before Lambda's deadline, so the rest are answered TemporaryFailure. */
const DEADLINE_MARGIN_MS = 15_000;

export function createBatchHandler(deriver: Deriver | (() => Promise<Deriver>)) {
  const getDeriver = builtOnce(deriver);
  return middy({ timeoutEarlyInMillis: 2_000 }).handler(
    async (event: unknown, context: Context, { signal }): Promise<BatchResponse> => {
      const invocation = parseBatchInvocation(event);
      const deadline = invocationDeadline(context, signal, DEADLINE_MARGIN_MS);
      const args = invocation.userArguments;
      const format = args["format"]?.toLowerCase();
      const results: BatchTaskResult[] = [];
      if (format !== undefined && !(OUTPUT_FORMATS as readonly string[]).includes(format)) {
        const why = `user argument format must be one of ${OUTPUT_FORMATS.join(", ")}, got "${format}"`;
        for (const task of invocation.tasks)
          results.push({ taskId: task.taskId, resultCode: "PermanentFailure", resultString: why });
        return batchResponse(invocation, results);
      }
      const core = await getDeriver();
      for (const task of invocation.tasks) {
        if (deadline.aborted) {
          results.push(resultOfError(task.taskId, undefined, true));
          continue;
        }
        try {
          const outcome = await deriveObject(core, {
            bucket: task.bucket,
            key: task.key,
            ...(format === undefined ? {} : { format: format as OutputFormat }),
            force: args["force"] === "true",
            redoStale: args["redoStale"] !== "false",
            signal: deadline,
          });
          results.push(resultOfOutcome(task.taskId, outcome));
        } catch (error) {
          results.push(resultOfError(task.taskId, error, deadline.aborted));
        }
      }
      for (const result of results) {
        process.stdout.write(`${JSON.stringify({ job: invocation.jobId, ...result })}\n`);
      }
      return batchResponse(invocation, results);
    },
  );
}

/** The Lambda entry point: configuration, S3 client and model load once per container. */
export const handler = createBatchHandler(async () =>
  (await import("../lib/storage/deriver.js")).deriverFromEnvironment(),
);
