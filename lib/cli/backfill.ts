/**
 * `unjpeg backfill`: restores an existing archive from one machine. Wires the parts together: options,
 * configuration, the object source (listing or manifest), the resume journal, the shared derive core,
 * progress on stderr and the JSON report on stdout.
 */
import { rename, writeFile } from "node:fs/promises";
import { makeKeyFilter } from "../backfill/glob.js";
import { openJournal, readOnlyJournal } from "../backfill/journal.js";
import { manifestSource } from "../backfill/listing.js";
import type { ListedObject } from "../backfill/manifest.js";
import { deriveListedObject } from "../backfill/outcome.js";
import { emptyCounts, startProgress } from "../backfill/progress.js";
import { type BackfillReport, runBackfill } from "../backfill/run.js";
import { type Config, type Env, endpointOverrides, loadConfig, loadConfigWith } from "../config.js";
import { createDeriver } from "../storage/deriver.js";
import { isDerivativeKey } from "../storage/keys.js";
import { listObjects } from "../storage/listing.js";
import type { RetryOptions } from "../storage/retry.js";
import { UsageError } from "./args.js";
import { BACKFILL_USAGE, type BackfillArgs, parseBackfillArgs } from "./backfill-args.js";

/**
 * The configuration with the command line's overrides on top. `--restore-concurrency` is this process's
 * model concurrency: the run queue every restore here waits in (lib/model/run-queue.ts) admits that many.
 */
export function backfillConfig(args: BackfillArgs, env?: Env): Config {
  const overrides = {
    UNJPEG_MODEL_CONCURRENCY: String(args.restoreConcurrency),
    ...endpointOverrides(args.endpoint),
    UNJPEG_SKIP_QUALITY: args.skipQuality?.toString(),
    UNJPEG_FORMAT: args.format,
  };
  return env === undefined ? loadConfigWith(overrides) : loadConfig(env, overrides);
}

export async function main(argv: string[]): Promise<number> {
  let args: BackfillArgs | null;
  try {
    args = parseBackfillArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`unjpeg backfill: ${error.message}\n${BACKFILL_USAGE}\n`);
    return 2;
  }
  if (args === null) {
    process.stdout.write(`${BACKFILL_USAGE}\n`);
    return 0;
  }
  const config = backfillConfig(args);
  // Restores take turns in the process's model run queue, which admits --restore-concurrency at once.
  const deriver = await createDeriver(config);
  const journal = args.dryRun
    ? await readOnlyJournal(args.statePath, args.source)
    : await openJournal(args.statePath, args.source);
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  log(
    args.dryRun
      ? `dry run: nothing is written${journal.resumed > 0 ? ` (${journal.resumed} objects already done in ${args.statePath})` : ""}`
      : `state: ${args.statePath}${journal.resumed > 0 ? ` (resuming: ${journal.resumed} objects already done)` : ""}; rerun the same command to resume`,
  );

  const controller = new AbortController();
  let signals = 0;
  const onSignal = (): void => {
    signals++;
    if (signals === 1) {
      log("\nstopping: objects in flight are abandoned and redone on resume (again to quit at once)");
      controller.abort();
    } else {
      process.exit(130);
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const retry = { attempts: args.retries };
  const onRetry: RetryOptions["onRetry"] = (failure, attempt, delay) =>
    log(`\nretry ${attempt} in ${delay} ms after ${failure.code}: ${failure.message}`);
  const objects =
    args.manifest !== null
      ? manifestObjectsIn(args, deriver.s3)
      : listObjects(deriver.s3, args.location!, { retry: { ...retry, onRetry }, signal: controller.signal });
  const counts = emptyCounts();
  const progress = startProgress(counts, process.stderr, { plainEveryMs: args.progressEverySeconds * 1000 });
  let report: BackfillReport;
  try {
    report = await runBackfill({
      source: args.source,
      objects,
      journal,
      concurrency: args.concurrency,
      dryRun: args.dryRun,
      filter: makeKeyFilter({ include: args.include, exclude: args.exclude, since: args.since }),
      isDerivativeKey: (key) => isDerivativeKey(key, config),
      retry: { ...retry, onRetry },
      signal: controller.signal,
      counts,
      process: (object, signal) =>
        deriveListedObject(deriver, object, signal, {
          format: config.format,
          redoStale: args.redoStale,
          dryRun: args.dryRun,
        }),
    });
  } finally {
    progress.stop();
    await journal.close();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  const text = `${JSON.stringify(report, null, 2)}\n`;
  process.stdout.write(text);
  if (args.reportPath !== undefined) {
    // Whole or absent: a reader never sees half a report.
    await writeFile(`${args.reportPath}.tmp`, text);
    await rename(`${args.reportPath}.tmp`, args.reportPath);
  }
  if (report.interrupted) return 130;
  return report.total.failed > 0 ? 1 : 0;
}

/** A manifest's objects, narrowed to the bucket/prefix given with it (if any). */
async function* manifestObjectsIn(
  args: BackfillArgs,
  s3: Parameters<typeof manifestSource>[0],
): AsyncGenerator<ListedObject> {
  for await (const object of manifestSource(s3, args.manifest!)) {
    if (
      args.location !== null &&
      (object.bucket !== args.location.bucket || !object.key.startsWith(args.location.prefix))
    ) {
      continue;
    }
    yield object;
  }
}
