/**
 * The CDN origin (Lambda, middy): Function URL / API Gateway HTTP API events (payload 2.0) in, the restored
 * image out. Only translates: the work is lib/http's origin. With invoke mode RESPONSE_STREAM (as in
 * serverless.yml) bodies up to 20 MB are streamed; larger ones, and any over 6 MB in buffered mode, are
 * answered with a redirect to a presigned URL of the stored derivative.
 */
import { Readable } from "node:stream";
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import { loadConfig } from "../lib/config.js";
import type { OriginApp } from "../lib/http/app.js";
import { timedOut } from "../lib/http/errors.js";
import {
  type HttpEventV2,
  LAMBDA_MAX_BUFFERED_BODY_BYTES,
  LAMBDA_MAX_STREAMED_BODY_BYTES,
  limitResponse,
  requestFromEvent,
  resultFromResponse,
} from "../lib/http/payload.js";
import { errorResponse } from "../lib/http/respond.js";
import type { OriginResponse } from "../lib/http/types.js";
import { builtOnce } from "./invocation.js";

/** Answer this long before Lambda's deadline, so the viewer gets a 503 to retry rather than a cut-off. */
const DEADLINE_MARGIN_MS = 1_500;
/**
 * A restore still running this long before the deadline is handed off (the restore queue) and the original
 * served as pending: time left to read the original from S3 and send it, well before middy's 503.
 */
const ANSWER_RESERVE_MS = 5_000;

export interface CdnOriginHandlerOptions {
  /** RESPONSE_STREAM invoke mode (needs the Lambda runtime's `awslambda` global). */
  readonly streaming?: boolean;
  /** Override of the invoke mode's body limit (tests exercise the redirect with small images). */
  readonly maxBodyBytes?: number;
}

export function createCdnOriginHandler(
  app: OriginApp | (() => Promise<OriginApp>),
  options: CdnOriginHandlerOptions = {},
) {
  const getApp = builtOnce(app);
  const streaming = options.streaming === true;
  const maxBodyBytes =
    options.maxBodyBytes ?? (streaming ? LAMBDA_MAX_STREAMED_BODY_BYTES : LAMBDA_MAX_BUFFERED_BODY_BYTES);
  /** The runtime's shape for each invoke mode: a stream body, or base64 inside the JSON result. */
  const toLambda = async (response: OriginResponse, presign?: (key: string) => Promise<string>) => {
    if (!streaming) return resultFromResponse(response, { maxBodyBytes, ...(presign ? { presign } : {}) });
    const raw = await limitResponse(response, { maxBodyBytes, ...(presign ? { presign } : {}) });
    const chunks = raw.body === undefined ? [] : [Buffer.from(raw.body)];
    return { statusCode: raw.statusCode, headers: raw.headers, body: Readable.from(chunks) };
  };
  return middy({
    timeoutEarlyInMillis: DEADLINE_MARGIN_MS,
    // middy races the handler against the deadline; this answers first, and the handler's signal aborts.
    timeoutEarlyResponse: () => toLambda(errorResponse(timedOut(5))),
    streamifyResponse: streaming,
  }).handler(async (event: unknown, context: Context, { signal }): Promise<unknown> => {
    try {
      const { origin, presign } = await getApp();
      const remaining = context.getRemainingTimeInMillis?.();
      const answerBy = remaining === undefined ? undefined : Date.now() + remaining - ANSWER_RESERVE_MS;
      return await toLambda(await origin(requestFromEvent(event as HttpEventV2, signal, answerBy)), presign);
    } catch (error) {
      // Only configuration or cold-start failures get here (the origin answers its own errors).
      process.stderr.write(`unjpeg cdn-origin: ${error instanceof Error ? error.stack : String(error)}\n`);
      return toLambda(errorResponse(error));
    }
  });
}

const inLambdaStreaming =
  typeof (globalThis as { awslambda?: { streamifyResponse?: unknown } }).awslambda?.streamifyResponse ===
  "function";

/** The Lambda entry point: configuration, S3 client and model set up once per container, on first use. */
export const handler = createCdnOriginHandler(
  async () => {
    const config = loadConfig();
    const [{ createDeriver }, { createOriginApp }] = await Promise.all([
      import("../lib/storage/deriver.js"),
      import("../lib/http/app.js"),
    ]);
    return createOriginApp(config, { deriver: await createDeriver(config) });
  },
  { streaming: inLambdaStreaming },
);
