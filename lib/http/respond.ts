/** Building origin responses: JSON bodies, and errors as `{code, message}` with their status. */
import { isUnjpegError } from "../errors.js";
import { HttpError } from "./errors.js";
import { CACHE_NONE, cacheControlForStatus } from "./headers.js";
import type { OriginResponse } from "./types.js";

export function jsonResponse(
  status: number,
  value: unknown,
  headers: Readonly<Record<string, string>> = {},
): OriginResponse {
  return {
    status,
    headers: {
      "content-type": "application/json; charset=utf-8",
      "cache-control": CACHE_NONE,
      "x-content-type-options": "nosniff",
      ...headers,
    },
    body: new TextEncoder().encode(`${JSON.stringify(value)}\n`),
  };
}

/**
 * Any thrown value → a response. UnjpegErrors keep their status and public message; anything else is a
 * 500 that says nothing of the internals (the adapter logs the real error).
 */
export function errorResponse(error: unknown): OriginResponse {
  if (!isUnjpegError(error)) {
    return jsonResponse(500, { code: "INTERNAL", message: "internal error" });
  }
  const status = error.status >= 400 && error.status <= 599 ? error.status : 500;
  const headers: Record<string, string> = { "cache-control": cacheControlForStatus(status) };
  if (error instanceof HttpError && error.retryAfterSeconds !== undefined) {
    headers["retry-after"] = String(error.retryAfterSeconds);
  } else if (status === 503) {
    headers["retry-after"] = "5";
  }
  const message = status === 500 ? "internal error" : error.publicMessage;
  return jsonResponse(status, { code: error.code, message }, headers);
}

export function redirect(location: string, status = 302): OriginResponse {
  return { status, headers: { location, "cache-control": "public, max-age=3600" } };
}
