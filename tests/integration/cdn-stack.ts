/**
 * The CDN origin on a real stack, shared by tests/integration/cdn-*.test.ts, tests/e2e/page-*.test.ts and
 * bench/cdn.ts: an s3rver (bucket `media`) in a temp folder, the real storage core and lib/restore with the
 * small committed test model, the origin behind the local HTTP adapter on a free port.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import type { Config } from "../../lib/config.js";
import { createOriginApp, type OriginApp, type OriginAppOptions } from "../../lib/http/app.js";
import { type LocalServer, startLocalServer } from "../../lib/http/local-server.js";
import { streamingPayloadHandler } from "../../lib/http/payload.js";
import { loadModelFolder } from "../../lib/model/model-folder.js";
import { decide } from "../../lib/restore/decide.js";
import { restore } from "../../lib/restore/restore.js";
import type { RestoreOptions } from "../../lib/restore/types.js";
import type { Deriver } from "../../lib/storage/derive.js";
import { BUCKET, putBytes, startS3rver, TEST_MODEL_DIR } from "./s3rver-helpers.js";

export { BUCKET, makeJpeg, TEST_MODEL_DIR } from "./s3rver-helpers.js";

/** The restore queue the hand-off tests send to (a fake SQS client stands behind it). */
export const TEST_QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/unjpeg-restore";

/** handlers/cdn-origin.ts answers a pending restore this long before Lambda's deadline. */
export const ANSWER_RESERVE_MS = 5_000;

/** What the CDN-origin Lambda handler returns (payload 2.0). */
export interface LambdaResult {
  statusCode: number;
  headers: Record<string, string>;
  body?: string;
  isBase64Encoded?: boolean;
}

/** A Function URL / HTTP API payload 2.0 GET event. */
export const functionUrlEvent = (
  rawPath: string,
  headers: Record<string, string> = {},
  rawQueryString = "",
) => ({
  version: "2.0",
  rawPath,
  rawQueryString,
  headers: { accept: "*/*", ...headers },
  isBase64Encoded: false,
  requestContext: { http: { method: "GET", path: rawPath } },
});

/** A Lambda context with `msBeforeHandOff` left before the origin must answer. */
export const contextWith = (msBeforeHandOff: number) =>
  ({ getRemainingTimeInMillis: () => ANSWER_RESERVE_MS + msBeforeHandOff }) as never;

export const bodyOf = (result: LambdaResult): Uint8Array =>
  new Uint8Array(Buffer.from(result.body ?? "", "base64"));

export interface CdnStack {
  readonly url: string;
  readonly s3: S3Client;
  readonly config: Config;
  readonly app: OriginApp;
  readonly deriver: Deriver;
  /** Model runs so far (restore calls that were not skips). */
  restores(): number;
  put(key: string, body: Uint8Array, contentType?: string): Promise<void>;
  close(): Promise<void>;
}

export async function startCdnStack(
  options: {
    env?: Record<string, string>;
    page?: boolean;
    concurrency?: number;
    /** The origin's memory for served derivatives (default: the app's). */
    hotCacheBytes?: number;
    /** More options of the origin app (hand-off, background restores, ...). */
    app?: Omit<OriginAppOptions, "deriver">;
    maxQueued?: number;
    /** An S3 endpoint already running (with a bucket `media`); default: an s3rver started here. */
    s3Endpoint?: string;
  } = {},
): Promise<CdnStack> {
  const { s3, config, close } = await startS3rver({
    tempPrefix: "unjpeg-cdn-",
    ...(options.s3Endpoint === undefined ? {} : { s3Endpoint: options.s3Endpoint }),
    env: { UNJPEG_BUCKET: BUCKET, UNJPEG_THREADS: "1", ...options.env },
  });
  let restores = 0;
  const deriver: Deriver = {
    s3,
    config,
    decide: (header, restoreOptions: RestoreOptions) => decide(header, restoreOptions),
    restore: async (input, restoreOptions) => {
      const outcome = await restore(input, restoreOptions);
      if (outcome.action === "restored") restores += 1;
      return outcome;
    },
    // The tag of the model restore() runs: derivatives record it and staleness compares against it.
    model: (await loadModelFolder(config.modelDir ?? TEST_MODEL_DIR)).tag,
  };
  const app = await createOriginApp(config, {
    ...options.app,
    deriver,
    page: options.page ?? false,
    ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
    ...(options.maxQueued === undefined ? {} : { maxQueued: options.maxQueued }),
    ...(options.hotCacheBytes === undefined ? {} : { hotCacheBytes: options.hotCacheBytes }),
  });
  const server: LocalServer = await startLocalServer(streamingPayloadHandler(app.origin), { port: 0 });
  return {
    url: server.url,
    s3,
    config,
    app,
    deriver,
    restores: () => restores,
    async put(key, body, contentType = "image/jpeg") {
      await putBytes(s3, key, body, contentType);
    },
    async close() {
      await server.close();
      await close();
    },
  };
}
