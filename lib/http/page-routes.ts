/**
 * The local stack's reserved routes: the before/after page (static files served from memory) and its small
 * API under `/_unjpeg/api/`: list the bucket's JPEGs, upload one, read an original. Never mounted in Lambda.
 */
import { readFile } from "node:fs/promises";
import { UnjpegError } from "../errors.js";
import { badRequest, methodNotAllowed, notFound, tooLarge, unsupportedMedia } from "./errors.js";
import { jsonResponse } from "./respond.js";
import { checkPrefix, parseKey } from "./route.js";
import type { QueryPairs } from "./signing.js";
import type { OriginRequest, OriginResponse, StoredObject } from "./types.js";
import { sniffFormat } from "./variant.js";

export interface PageStore {
  /** Source JPEGs in the bucket (no derivatives) under the source prefixes (none: all), at most `limit`. */
  listSources(limit: number, prefixes: readonly string[]): Promise<{ key: string; size: number }[]>;
  putSource(key: string, body: Uint8Array, contentType: string): Promise<void>;
  getObject(key: string): Promise<StoredObject | null>;
  isDerivativeKey(key: string): boolean;
}

const ASSETS: Readonly<Record<string, string>> = Object.freeze({
  "index.html": "text/html; charset=utf-8",
  "page.css": "text/css; charset=utf-8",
  "page.js": "text/javascript; charset=utf-8",
});

/**
 * Reads the page's files once (they are small) and keeps them in memory. They sit beside this module in
 * the source tree; compiled code (dist/lib/http/) finds them in the clone's lib/http/page/.
 */
export async function loadPageAssets(): Promise<Map<string, Uint8Array>> {
  const folders = [new URL("./page/", import.meta.url), new URL("../../../lib/http/page/", import.meta.url)];
  for (const folder of folders) {
    try {
      const assets = new Map<string, Uint8Array>();
      for (const name of Object.keys(ASSETS)) {
        assets.set(name, new Uint8Array(await readFile(new URL(name, folder))));
      }
      return assets;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  }
  throw new UnjpegError(
    "PAGE_MISSING",
    `the page's files are not in ${folders.map((f) => f.pathname).join(" or ")}`,
  );
}

/**
 * The page's routes. `sourcePrefixes` (`UNJPEG_SOURCE_PREFIXES`) bound what the API lists, reads and
 * accepts exactly as they bound what the origin serves: the page shows nothing the origin would refuse.
 */
export function createPageRoutes(
  store: PageStore,
  assets: Map<string, Uint8Array>,
  maxUploadBytes: number,
  sourcePrefixes: readonly string[] = [],
) {
  const get = (query: QueryPairs, name: string): string | undefined => query.find(([n]) => n === name)?.[1];

  return async function pageRoutes(
    request: OriginRequest,
    target: { kind: "page"; asset: string } | { kind: "api"; endpoint: string; query?: QueryPairs },
  ): Promise<OriginResponse> {
    if (target.kind === "page") {
      const body = assets.get(target.asset);
      const type = ASSETS[target.asset];
      if (body === undefined || type === undefined) throw notFound("no such page file");
      if (request.method !== "GET" && request.method !== "HEAD") throw methodNotAllowed();
      return { status: 200, headers: { "content-type": type, "cache-control": "no-cache" }, body };
    }
    const query = target.query ?? [];
    switch (target.endpoint) {
      case "objects":
        return jsonResponse(200, { objects: await store.listSources(500, sourcePrefixes) });
      case "original": {
        const key = parseKey(`/${get(query, "key") ?? ""}`);
        checkPrefix(key, sourcePrefixes);
        const object = await store.getObject(key);
        if (object === null) throw notFound();
        return {
          status: 200,
          headers: {
            "content-type": object.contentType ?? "application/octet-stream",
            "cache-control": "no-store",
          },
          body: await object.read(),
        };
      }
      case "upload": {
        if (request.method !== "POST" && request.method !== "PUT") {
          throw badRequest("METHOD", "upload with POST and the JPEG as the body");
        }
        const body = request.body ?? new Uint8Array();
        if (body.byteLength === 0) throw badRequest("EMPTY_UPLOAD", "the upload is empty");
        if (body.byteLength > maxUploadBytes)
          throw tooLarge(`uploads are limited to ${maxUploadBytes} bytes`);
        if (sniffFormat(body) !== "jpeg")
          throw unsupportedMedia("NOT_JPEG", "only JPEG files can be restored");
        const key = `uploads/${safeName(get(query, "name") ?? "upload.jpg")}`;
        checkPrefix(key, sourcePrefixes);
        if (store.isDerivativeKey(key))
          throw badRequest("DERIVATIVE_KEY", "that name is reserved for derivatives");
        await store.putSource(key, body, "image/jpeg");
        return jsonResponse(201, { key });
      }
      default:
        throw notFound("no such API endpoint");
    }
  };
}

/** A file name reduced to something safe as one key segment. */
export function safeName(name: string): string {
  const base = name.split(/[/\\]/).pop() ?? "";
  const cleaned = base
    .normalize("NFC")
    // biome-ignore lint/suspicious/noControlCharactersInRegex: dropping control characters is the point
    .replace(/[\u0000-\u001f\u007f]/g, "")
    .replace(/[^\p{L}\p{N}._ -]/gu, "-")
    .replace(/^[.\s]+/, "")
    .slice(0, 120)
    .trim();
  const withName = cleaned === "" ? "upload" : cleaned;
  return /\.(jpe?g|jfif)$/i.test(withName) ? withName : `${withName}.jpg`;
}
