/**
 * Lambda Function URL / API Gateway HTTP API payload format 2.0, as plain types (lib/ holds no Lambda
 * types; these match @types/aws-lambda's APIGatewayProxyEventV2 structurally), and the translation to and
 * from the origin's own request and response. The local HTTP server builds the same events, so the page
 * and tests run through exactly this code.
 */
import type { Origin } from "./origin.js";
import type { OriginRequest, OriginResponse } from "./types.js";

export interface HttpEventV2 {
  readonly version?: string;
  readonly rawPath: string;
  readonly rawQueryString: string;
  readonly cookies?: string[];
  readonly headers?: Record<string, string | undefined>;
  readonly body?: string;
  readonly isBase64Encoded: boolean;
  readonly requestContext: { readonly http: { readonly method: string; readonly path?: string } };
}

export interface HttpResultV2 {
  statusCode: number;
  headers: Record<string, string>;
  body?: string;
  isBase64Encoded?: boolean;
}

/**
 * A buffered Lambda response is at most 6 MB of JSON and a body travels base64 (4/3 larger) inside it; a
 * streamed one (invoke mode RESPONSE_STREAM) at most 20 MB. Bodies above are redirected to a presigned URL
 * of the stored object instead.
 */
export const LAMBDA_MAX_BUFFERED_BODY_BYTES = 4_400_000;
export const LAMBDA_MAX_STREAMED_BODY_BYTES = 20_000_000;

export interface PayloadOptions {
  /** Larger bodies are answered with a redirect (default: no limit). */
  readonly maxBodyBytes?: number;
  /** A short-lived GET URL of a stored object, for bodies over the limit. */
  readonly presign?: (key: string) => Promise<string>;
  readonly signal?: AbortSignal;
}

export function requestFromEvent(event: HttpEventV2, signal?: AbortSignal, answerBy?: number): OriginRequest {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) headers[name.toLowerCase()] = value;
  const body =
    event.body === undefined
      ? undefined
      : event.isBase64Encoded
        ? new Uint8Array(Buffer.from(event.body, "base64"))
        : new TextEncoder().encode(event.body);
  return {
    method: event.requestContext.http.method.toUpperCase(),
    path: event.rawPath,
    query: event.rawQueryString,
    headers,
    ...(body === undefined ? {} : { body }),
    ...(signal === undefined ? {} : { signal }),
    ...(answerBy === undefined ? {} : { answerBy }),
  };
}

/** A response as the Lambda runtime takes it, before the body is encoded for the chosen invoke mode. */
export interface RawResult {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body?: Uint8Array;
}

/** Applies the response-size limit: a body over it becomes a redirect to the stored object. */
export async function limitResponse(response: OriginResponse, options: PayloadOptions): Promise<RawResult> {
  const body = response.body;
  const limit = options.maxBodyBytes ?? Number.POSITIVE_INFINITY;
  if (body !== undefined && body.byteLength > limit && response.storedKey !== undefined && options.presign) {
    // Never a failure for a large image: the client fetches the stored bytes straight from S3. The
    // redirect is cached briefly, well within the presigned URL's lifetime.
    return {
      statusCode: 302,
      headers: {
        location: await options.presign(response.storedKey),
        "cache-control": "public, max-age=300",
        ...pick(response.headers, [
          "vary",
          "x-unjpeg-action",
          "x-unjpeg-model",
          "x-unjpeg-quality",
          "x-unjpeg-format-fallback",
        ]),
      },
    };
  }
  return {
    statusCode: response.status,
    headers: { ...response.headers },
    ...(body === undefined ? {} : { body }),
  };
}

/** Buffered invoke mode: the body travels base64-encoded inside the JSON result. */
export async function resultFromResponse(
  response: OriginResponse,
  options: PayloadOptions,
): Promise<HttpResultV2> {
  const raw = await limitResponse(response, options);
  return {
    statusCode: raw.statusCode,
    headers: raw.headers,
    ...(raw.body === undefined
      ? {}
      : { body: Buffer.from(raw.body).toString("base64"), isBase64Encoded: true }),
  };
}

/**
 * event → origin → result with the body as bytes, as in the RESPONSE_STREAM invoke mode the deployment
 * uses: what the local HTTP adapter calls (no base64 round trip on every local response).
 */
export function streamingPayloadHandler(origin: Origin) {
  return async (event: HttpEventV2, signal?: AbortSignal): Promise<RawResult> =>
    limitResponse(await origin(requestFromEvent(event, signal)), {});
}
const pick = (headers: Readonly<Record<string, string>>, names: readonly string[]): Record<string, string> =>
  Object.fromEntries(names.flatMap((name) => (headers[name] === undefined ? [] : [[name, headers[name]!]])));
