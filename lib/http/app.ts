/**
 * Assembles the origin from the configuration: the storage core (lib/storage's Deriver, built once per
 * process), the S3-bound store, model status for `/_unjpeg/health`, and for the local stack the page.
 */
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type { Config } from "../config.js";
import type { Deriver } from "../storage/derive.js";
import { HttpError } from "./errors.js";
import { type HandOff, queueHandOff } from "./hand-off.js";
import { createOrigin, type Origin, type OriginOptions } from "./origin.js";
import { createPageRoutes, loadPageAssets } from "./page-routes.js";
import { createS3OriginStore, createS3PageStore, requireBucket } from "./s3-store.js";
import { createSourceTriage } from "./source-triage.js";
import type { ModelStatus } from "./types.js";

export interface OriginAppOptions {
  readonly deriver: Deriver;
  /** Serve the before/after page and its upload API (local stack only). */
  readonly page?: boolean;
  readonly concurrency?: number;
  readonly maxQueued?: number;
  readonly restoreTimeoutMs?: number;
  /** Memory for recently served derivatives (default 64 MiB; 0: off). */
  readonly hotCacheBytes?: number;
  /** Default: the restore queue of `UNJPEG_RESTORE_QUEUE_URL` when set, else none. */
  readonly handOff?: HandOff;
  /** A long-running process (the local stack): restores that miss their answer go on here. */
  readonly background?: boolean;
  /** Longest a request waits for a restore before the original is served as pending (default: no limit). */
  readonly pendingAfterMs?: number;
  /** Default: one JSON line on stderr per pending answer. */
  readonly onPending?: OriginOptions["onPending"];
  /** Default: one JSON line on stderr per 5xx answer, with the real error. */
  readonly onServerError?: OriginOptions["onServerError"];
  /** Default: read the model folder and open its sessions (cached per process). */
  readonly modelStatus?: () => Promise<ModelStatus>;
  /** Encode speed per format assumed until measured (default SEEDED_ENCODE_RATES, lib/http/encode-budget.ts). */
  readonly encodeRates?: OriginOptions["encodeRates"];
}

export interface OriginApp {
  readonly origin: Origin;
  /** A GET URL of a stored object valid for an hour (bodies over the Lambda response limit). */
  readonly presign: (key: string) => Promise<string>;
}

export async function createOriginApp(config: Config, options: OriginAppOptions): Promise<OriginApp> {
  const { deriver } = options;
  const bucket = requireBucket(config);
  const store = { ...createS3OriginStore(deriver, bucket), triage: createSourceTriage(deriver, bucket) };
  const extraRoutes =
    options.page === true
      ? createPageRoutes(
          createS3PageStore(deriver, bucket, store),
          await loadPageAssets(),
          config.maxBytes,
          config.sourcePrefixes,
        )
      : undefined;
  const handOff =
    options.handOff ??
    (config.restoreQueueUrl === undefined ? undefined : queueHandOff(config.restoreQueueUrl, bucket));
  const originOptions: OriginOptions = {
    config,
    store,
    modelStatus: options.modelStatus ?? (() => openModelStatus(config, deriver.model)),
    ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
    ...(options.maxQueued === undefined ? {} : { maxQueued: options.maxQueued }),
    ...(options.restoreTimeoutMs === undefined ? {} : { restoreTimeoutMs: options.restoreTimeoutMs }),
    ...(options.hotCacheBytes === undefined ? {} : { hotCacheBytes: options.hotCacheBytes }),
    ...(options.background === undefined ? {} : { background: options.background }),
    ...(options.pendingAfterMs === undefined ? {} : { pendingAfterMs: options.pendingAfterMs }),
    ...(handOff === undefined ? {} : { handOff }),
    ...(options.encodeRates === undefined ? {} : { encodeRates: options.encodeRates }),
    onPending: options.onPending ?? logPending,
    ...(extraRoutes === undefined ? {} : { extraRoutes }),
    onServerError: options.onServerError ?? logServerError,
  };
  return {
    origin: createOrigin(originOptions),
    presign: (key) =>
      getSignedUrl(deriver.s3, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 3600 }),
  };
}

/**
 * Health opens the model's sessions, its bands' included (cached: the first call pays the load, later
 * ones are instant), so "loaded" is true only when a restore could run now.
 */
async function openModelStatus(config: Config, tag: string): Promise<ModelStatus> {
  const [id = null, version = null] = tag.split("@");
  try {
    const [{ openModel }, { shippedModelDir }, { folderForQuality }] = await Promise.all([
      import("../model/sessions.js"),
      import("../model/default-model.js"),
      import("../model/model-folder.js"),
    ]);
    const dir = config.modelDir ?? shippedModelDir();
    const options = {
      provider: config.executionProvider,
      ...(config.threads === undefined ? {} : { threads: config.threads }),
    };
    const { model } = await openModel(dir, options);
    // Each band's weights too: a source of its qualities needs them.
    for (const band of model.manifest.bands)
      await openModel((await folderForQuality(dir, band.maxQuality)).dir, options);
    return { loaded: true, model: tag, id, version };
  } catch (error) {
    return {
      loaded: false,
      model: tag,
      id,
      version,
      error: error instanceof Error ? error.message : String(error),
    };
  }
}

/** Not an error, but an operator wants to know, above all when nothing will restore the image. */
function logPending(event: Parameters<NonNullable<OriginOptions["onPending"]>>[0]): void {
  const line = {
    msg: "cdn origin restore pending",
    level: event.state === "not-queued" ? "warn" : "info",
    key: event.key,
    format: event.format,
    state: event.state,
    ...(event.estimatedMs === undefined
      ? {}
      : {
          estimatedMs: Math.round(event.estimatedMs),
          decidedUpfront: "estimated over the time left: handed off without starting",
        }),
    ...(event.state === "not-queued"
      ? {
          why:
            event.error === undefined
              ? "no restore queue: set UNJPEG_RESTORE_QUEUE_URL so restores that outlast a request are done by the queue worker"
              : `sending to the restore queue failed: ${event.error instanceof Error ? event.error.message : String(event.error)}`,
        }
      : {}),
  };
  process.stderr.write(`${JSON.stringify(line)}\n`);
}

function logServerError(error: unknown, request: { method: string; path: string }): void {
  // Refusals the origin decided on (overload, timeout) are expected under load: one line, no stack.
  const detail =
    error instanceof HttpError
      ? { level: "warn", code: error.code, message: error.message }
      : error instanceof Error
        ? { level: "error", name: error.name, message: error.message, stack: error.stack }
        : { level: "error", error: String(error) };
  const line = { msg: "cdn origin 5xx", method: request.method, path: request.path, ...detail };
  process.stderr.write(`${JSON.stringify(line)}\n`);
}
