/**
 * S3 Batch Operations "Invoke AWS Lambda function" (schema 1.0 or 2.0; Lambda, middy). Each task goes
 * through the one object-event policy; one result per task: Succeeded (restored, or skipped and why, a
 * corrupt image too), TemporaryFailure (throttling, 5xx, a model run failure, out of time: S3 retries it)
 * or PermanentFailure (access denied, missing object), with a result string that the job's completion
 * report shows. Job user arguments (2.0): `format`, `force`, `redoStale`.
 */
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import {
  type BatchResponse,
  type BatchTaskResult,
  batchResponse,
  parseBatchInvocation,
  resultOfEvent,
} from "../lib/backfill/batch.js";
import { isOutputFormat, OUTPUT_FORMATS, type OutputFormat } from "../lib/config.js";
import type { Deriver } from "../lib/storage/derive.js";
import { handleObjectEvent } from "../lib/storage/object-event.js";
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
      if (format !== undefined && !isOutputFormat(format)) {
        const why = `user argument format must be one of ${OUTPUT_FORMATS.join(", ")}, got "${format}"`;
        for (const task of invocation.tasks)
          results.push({ taskId: task.taskId, resultCode: "PermanentFailure", resultString: why });
        return batchResponse(invocation, results);
      }
      const core = await getDeriver();
      const options = {
        ...(format === undefined ? {} : { format: format as OutputFormat }),
        force: args["force"] === "true",
        redoStale: args["redoStale"] !== "false",
        signal: deadline,
      };
      for (const task of invocation.tasks) {
        const event = {
          change: "created",
          bucket: task.bucket,
          key: task.key,
          name: "Batch Operations",
        } as const;
        results.push(resultOfEvent(task.taskId, await handleObjectEvent(core, event, options)));
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
