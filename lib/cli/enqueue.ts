/**
 * `unjpeg enqueue s3://bucket/prefix --queue-url URL`: fans a listing (or a manifest) out to a queue as
 * S3 event notification messages, for `unjpeg worker` or the queue-worker Lambda to process.
 */
import { makeKeyFilter, parseSince } from "../backfill/glob.js";
import { manifestSource, parseS3Url, type S3Location } from "../backfill/listing.js";
import type { ListedObject } from "../backfill/manifest.js";
import { endpointOverrides, loadConfigWith } from "../config.js";
import { enqueueObjects } from "../queue/enqueue.js";
import { createSqsClient, regionOfQueueUrl } from "../queue/sqs.js";
import { isDerivativeKey } from "../storage/keys.js";
import { listObjects } from "../storage/listing.js";
import { createS3Client } from "../storage/s3.js";
import { parseCommandArgs, UsageError } from "./args.js";

const USAGE = `usage: unjpeg enqueue s3://bucket/prefix --queue-url URL [options]
       unjpeg enqueue --manifest FILE --queue-url URL [options]

Sends one S3 event notification message per object (derivatives left out) to the queue.
  --queue-url URL       the queue (required)
  --endpoint URL        an S3-compatible endpoint (path-style)
  --sqs-endpoint URL    an SQS-compatible endpoint
  --include GLOB, --exclude GLOB, --since DATE, --manifest FILE   as for backfill
  --dry-run             count what would be sent, send nothing
  -h, --help            this text
Prints {"listed","sent","filtered"} as JSON. Exit status: 0 sent, 1 failed, 2 bad usage.`;

const OPTIONS = {
  "queue-url": { type: "string" },
  endpoint: { type: "string" },
  "sqs-endpoint": { type: "string" },
  include: { type: "string", multiple: true },
  exclude: { type: "string", multiple: true },
  since: { type: "string" },
  manifest: { type: "string" },
  "dry-run": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

export async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseCommandArgs<typeof OPTIONS>>;
  let location: S3Location | null = null;
  let filter: (object: ListedObject) => boolean;
  try {
    parsed = parseCommandArgs(argv, OPTIONS);
    if (parsed.values.help === true) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    if (parsed.values["queue-url"] === undefined) throw new UsageError("--queue-url is required");
    if (parsed.positionals.length > 1) throw new UsageError("one s3://bucket/prefix at most");
    if (parsed.positionals[0] === undefined && parsed.values.manifest === undefined) {
      throw new UsageError("give s3://bucket/prefix or --manifest FILE");
    }
    if (parsed.positionals[0] !== undefined) location = parseS3Url(parsed.positionals[0]);
    filter = makeKeyFilter({
      include: parsed.values.include,
      exclude: parsed.values.exclude,
      since: parsed.values.since === undefined ? undefined : parseSince(parsed.values.since),
    });
  } catch (error) {
    if (!(error instanceof UsageError) && (error as { status?: number }).status !== 400) throw error;
    process.stderr.write(`unjpeg enqueue: ${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values } = parsed;
  const config = loadConfigWith(endpointOverrides(values.endpoint));
  const s3 = createS3Client(config);
  const counts = { listed: 0, filtered: 0 };
  const source =
    values.manifest !== undefined ? manifestSource(s3, values.manifest) : listObjects(s3, location!);
  async function* wanted(): AsyncGenerator<ListedObject> {
    for await (const object of source) {
      counts.listed++;
      const outside =
        location !== null && (object.bucket !== location.bucket || !object.key.startsWith(location.prefix));
      if (outside || isDerivativeKey(object.key, config) || !filter(object)) {
        counts.filtered++;
        continue;
      }
      yield object;
    }
  }
  if (values["dry-run"] === true) {
    let would = 0;
    for await (const _ of wanted()) would++;
    process.stdout.write(`${JSON.stringify({ ...counts, sent: 0, wouldSend: would })}\n`);
    return 0;
  }
  const queueUrl = values["queue-url"]!;
  const sqs = createSqsClient({ endpoint: values["sqs-endpoint"], region: regionOfQueueUrl(queueUrl) });
  const stats = await enqueueObjects(sqs, queueUrl, wanted(), {
    onBatch: (s) => {
      if (s.batches % 100 === 0) process.stderr.write(`enqueue: ${s.sent} sent\n`);
    },
  });
  process.stdout.write(`${JSON.stringify({ ...counts, sent: stats.sent })}\n`);
  return 0;
}
