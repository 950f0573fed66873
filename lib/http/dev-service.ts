/**
 * The CDN origin as a service of the local stack (`npm start`): the origin with the before/after page,
 * behind the local HTTP adapter on UNJPEG_HTTP_PORT. Shaped as lib/cli/dev.ts's ServiceStarter.
 */
import type { Config } from "../config.js";
import type { Deriver } from "../storage/derive.js";
import { createOriginApp } from "./app.js";
import { startLocalServer } from "./local-server.js";
import { streamingPayloadHandler } from "./payload.js";

/** What the stack hands each service (lib/cli/dev.ts DevContext, structurally). */
export interface HttpServiceContext {
  readonly config: Config;
  readonly deriver: Deriver;
}

export async function startHttpService(
  context: HttpServiceContext,
  options: { bucket?: string; log?: (line: string) => void } = {},
) {
  const config: Config = Object.freeze({
    ...context.config,
    bucket: context.config.bucket ?? options.bucket ?? "media",
  });
  // A viewer (or the page) waits at most as long as CloudFront's default origin timeout; a longer restore
  // goes on in this process and the original is served as pending meanwhile.
  const app = await createOriginApp(config, {
    deriver: { ...context.deriver, config },
    page: true,
    background: true,
    pendingAfterMs: 30_000,
  });
  const server = await startLocalServer(streamingPayloadHandler(app.origin), {
    port: config.httpPort,
    maxBodyBytes: config.maxBytes,
    ...(options.log === undefined ? {} : { log: options.log }),
  });
  const signing = config.signingKeys.length > 0;
  return {
    name: "http",
    banner: [
      "",
      `CDN origin ${server.url}/<key>?format=jpeg|png|webp|avif|auto   (bucket ${config.bucket})`,
      `Page       ${server.url}/_unjpeg/   before/after with a split slider; upload or pick a JPEG`,
      `Health     ${server.url}/_unjpeg/health`,
      `  curl -o cat.webp '${server.url}/photos/cat.jpg?format=webp'${signing ? "   (URLs must be signed: unjpeg sign URL)" : ""}`,
    ],
    close: () => server.close(),
  };
}
