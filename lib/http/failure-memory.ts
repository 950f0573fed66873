/**
 * Failures the input is to blame for, remembered per source version: a source that does not decode, is
 * too large, or does not fit a format fails the same way every time, so requests meanwhile get the same
 * answer after the source's HEAD, without reading it (up to UNJPEG_MAX_BYTES) or decoding it again. Keyed
 * by the source's ETag: a new upload is judged afresh. Forgotten after `ttlMs`, oldest first past
 * `maxEntries`. Only 413, 415 and 422 are kept; a transient failure (5xx) or an answer about something
 * other than the source's content (403, 404, 409) never is.
 */
import type { OutputFormat } from "../config.js";
import { isUnjpegError, type UnjpegError } from "../errors.js";

/** Statuses that say the source's bytes are at fault, for as long as the source is not replaced. */
const REMEMBERED_STATUSES = new Set([413, 415, 422]);
/** Codes that are about one output format only; every other remembered failure holds for all formats. */
const PER_FORMAT_CODES = new Set(["IMAGE_TOO_LARGE_FOR_FORMAT"]);

export interface FailureMemory {
  /** The failure remembered for this source version and format, if any. */
  get(key: string, etag: string, format: OutputFormat, nowMs: number): UnjpegError | undefined;
  /** Keeps `error` when it is a failure of the source's content; ignores anything else. */
  remember(key: string, etag: string, format: OutputFormat, error: unknown, nowMs: number): void;
}

export function createFailureMemory(ttlMs: number, maxEntries = 1_000): FailureMemory {
  const entries = new Map<string, { error: UnjpegError; until: number }>();
  const id = (key: string, etag: string, scope: string): string => `${scope}\u0000${etag}\u0000${key}`;
  const lookup = (name: string, nowMs: number): UnjpegError | undefined => {
    const entry = entries.get(name);
    if (entry === undefined) return undefined;
    if (entry.until > nowMs) return entry.error;
    entries.delete(name);
    return undefined;
  };
  return {
    get: (key, etag, format, nowMs) =>
      etag === "" ? undefined : (lookup(id(key, etag, "*"), nowMs) ?? lookup(id(key, etag, format), nowMs)),
    remember(key, etag, format, error, nowMs) {
      if (etag === "" || !isUnjpegError(error) || !REMEMBERED_STATUSES.has(error.status)) return;
      const name = id(key, etag, PER_FORMAT_CODES.has(error.code) ? format : "*");
      entries.delete(name);
      entries.set(name, { error, until: nowMs + ttlMs });
      for (const [oldest] of entries) {
        if (entries.size <= maxEntries) break;
        entries.delete(oldest);
      }
    },
  };
}
