/**
 * `unjpeg worker --queue-url URL`: the long-running queue consumer (the container image's entry point on
 * GPU platforms). SIGTERM/SIGINT: stop receiving and finish the messages in flight; a second signal hands
 * them back to the queue at once and exits.
 */
import { endpointOverrides, loadConfigWith } from "../config.js";
import { handleMessageBody } from "../queue/handle.js";
import { createSqsClient, regionOfQueueUrl } from "../queue/sqs.js";
import { runWorker } from "../queue/worker.js";
import { createDeriver } from "../storage/deriver.js";
import { integerOption, parseCommandArgs, UsageError } from "./args.js";

const USAGE = `usage: unjpeg worker --queue-url URL [options]

Long-polls an SQS queue of S3 event notifications (or EventBridge S3 events), derives each object, deletes
the message on success and leaves failures to the queue's redrive policy.
  --queue-url URL       the queue (required)
  --concurrency N       messages in flight (default 2)
  --visibility S        seconds a message stays invisible, extended while it is worked on (default 120)
  --endpoint URL        an S3-compatible endpoint (path-style)
  --sqs-endpoint URL    an SQS-compatible endpoint
  --keep-stale          do not redo derivatives made by another model or from an older source
  --exit-when-empty     drain the queue, then exit
  -h, --help            this text
Exit status: 0 stopped cleanly, 1 a message failed (with --exit-when-empty), 2 bad usage.`;

const OPTIONS = {
  "queue-url": { type: "string" },
  concurrency: { type: "string" },
  visibility: { type: "string" },
  endpoint: { type: "string" },
  "sqs-endpoint": { type: "string" },
  "keep-stale": { type: "boolean" },
  "exit-when-empty": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

export async function main(argv: string[]): Promise<number> {
  let options: {
    queueUrl: string;
    concurrency: number;
    visibility: number;
    endpoint?: string;
    sqsEndpoint?: string;
    keepStale: boolean;
    exitWhenEmpty: boolean;
  };
  try {
    const { values, positionals } = parseCommandArgs(argv, OPTIONS);
    if (values.help === true) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    if (values["queue-url"] === undefined) throw new UsageError("--queue-url is required");
    options = {
      queueUrl: values["queue-url"],
      concurrency: integerOption("concurrency", values.concurrency, { max: 256 }) ?? 2,
      // SQS allows at most 12 hours.
      visibility: integerOption("visibility", values.visibility, { max: 43_200 }) ?? 120,
      ...(values.endpoint === undefined ? {} : { endpoint: values.endpoint }),
      ...(values["sqs-endpoint"] === undefined ? {} : { sqsEndpoint: values["sqs-endpoint"] }),
      keepStale: values["keep-stale"] === true,
      exitWhenEmpty: values["exit-when-empty"] === true,
    };
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`unjpeg worker: ${error.message}\n${USAGE}\n`);
    return 2;
  }
  const config = loadConfigWith(endpointOverrides(options.endpoint));
  const deriver = await createDeriver(config);
  const sqs = createSqsClient({ endpoint: options.sqsEndpoint, region: regionOfQueueUrl(options.queueUrl) });
  const log = (line: string): void => void process.stderr.write(`${new Date().toISOString()} ${line}\n`);

  const stop = new AbortController();
  const hardStop = new AbortController();
  const onSignal = (): void => {
    if (!stop.signal.aborted) {
      log("stopping: finishing messages in flight (signal again to hand them back and quit)");
      stop.abort();
    } else {
      hardStop.abort();
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  log(
    `worker: ${options.queueUrl}, concurrency ${options.concurrency}, visibility ${options.visibility} s, model ${deriver.model}`,
  );
  const stats = await runWorker({
    sqs,
    queueUrl: options.queueUrl,
    concurrency: options.concurrency,
    visibilitySeconds: options.visibility,
    exitWhenEmpty: options.exitWhenEmpty,
    signal: stop.signal,
    hardStop: hardStop.signal,
    log,
    handle: (message, signal) =>
      handleMessageBody(deriver, message.body, signal, { redoStale: !options.keepStale }),
  });
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  log(`worker stopped: ${JSON.stringify(stats)}`);
  return options.exitWhenEmpty && stats.failed > 0 ? 1 : 0;
}
