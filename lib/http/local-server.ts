/**
 * The local HTTP adapter: node:http requests become the same payload-2.0 events Lambda receives and go to
 * the same handler, so `npm start`, the page and the tests exercise the deployed code path.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { HttpEventV2, RawResult } from "./payload.js";

/** A payload-2.0 handler answering with the body as bytes (lib/http/payload.ts streamingPayloadHandler). */
export type EventHandler = (event: HttpEventV2) => Promise<RawResult>;

export interface LocalServerOptions {
  readonly port: number;
  /** Default 127.0.0.1: the local stack is for this machine only. */
  readonly host?: string;
  /** Request bodies above this are refused with 413 before they are read whole (default 50 MiB). */
  readonly maxBodyBytes?: number;
  readonly log?: (line: string) => void;
}

export interface LocalServer {
  readonly server: Server;
  readonly url: string;
  close(): Promise<void>;
}

class BodyTooLarge extends Error {}

async function readBody(request: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const declared = Number(request.headers["content-length"] ?? 0);
  if (declared > limit) throw new BodyTooLarge();
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    total += chunk.byteLength;
    if (total > limit) throw new BodyTooLarge();
    chunks.push(chunk);
  }
  return total === 0 ? undefined : Buffer.concat(chunks);
}

export function eventFromRequest(request: IncomingMessage, body: Buffer | undefined): HttpEventV2 {
  const url = request.url ?? "/";
  const q = url.indexOf("?");
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(",") : value;
  }
  return {
    version: "2.0",
    rawPath: q === -1 ? url : url.slice(0, q),
    rawQueryString: q === -1 ? "" : url.slice(q + 1),
    headers,
    isBase64Encoded: body !== undefined,
    ...(body === undefined ? {} : { body: body.toString("base64") }),
    requestContext: { http: { method: request.method ?? "GET" } },
  };
}

export async function startLocalServer(
  handler: EventHandler,
  options: LocalServerOptions,
): Promise<LocalServer> {
  const limit = options.maxBodyBytes ?? 50 * 1024 * 1024;
  const server = createServer(async (request, response) => {
    const started = performance.now();
    let result: RawResult;
    try {
      const body = await readBody(request, limit);
      result = await handler(eventFromRequest(request, body));
    } catch (error) {
      const tooLarge = error instanceof BodyTooLarge;
      const answer = tooLarge
        ? { code: "TOO_LARGE", message: `request bodies are limited to ${limit} bytes` }
        : { code: "INTERNAL", message: "internal error" };
      result = {
        statusCode: tooLarge ? 413 : 500,
        headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" },
        body: new TextEncoder().encode(JSON.stringify(answer)),
      };
      if (!tooLarge) options.log?.(`unjpeg http: ${(error as Error)?.stack ?? String(error)}`);
    }
    const body = result.body;
    const headers: Record<string, string> = { ...result.headers };
    if (body !== undefined) headers["content-length"] = String(body.byteLength);
    response.writeHead(result.statusCode, headers);
    response.end(request.method === "HEAD" ? undefined : body);
    options.log?.(
      `${request.method} ${request.url} ${result.statusCode} ${(performance.now() - started).toFixed(0)}ms`,
    );
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? "127.0.0.1", () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    server,
    url: `http://${address.address}:${address.port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
