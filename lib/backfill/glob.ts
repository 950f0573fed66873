/**
 * Key filters for backfill: glob patterns over S3 keys and a modification-date floor. Keys are paths with
 * `/` separators, so the glob dialect is the shell's: `*` and `?` stay within one path segment, `**`
 * crosses segments, `{a,b}` alternates, `[...]` is a character class (`[!...]` negated). Compiled by
 * picomatch, the matcher most tools use, with the shell's reading: dot files match like any others,
 * unbalanced brackets are errors, and parentheses are literal (keys like `IMG_0001 (1).jpg` are common;
 * picomatch would read them as a regular expression's group).
 */
import picomatch from "picomatch";
import { UnjpegError } from "../errors.js";

export class GlobError extends UnjpegError {
  constructor(pattern: string, why: string) {
    super("BACKFILL_BAD_GLOB", `invalid glob "${pattern}": ${why}`, { status: 400 });
  }
}

const GLOB_OPTIONS = Object.freeze({ dot: true, strictBrackets: true, posix: true, noextglob: true });

/** Compiles one glob to an anchored RegExp matching whole keys. */
export function globToRegExp(pattern: string): RegExp {
  if (pattern === "") throw new GlobError(pattern, "empty pattern");
  try {
    return picomatch.makeRe(pattern.replace(/(?<!\\)[()]/g, "\\$&"), GLOB_OPTIONS);
  } catch (error) {
    throw new GlobError(pattern, error instanceof Error ? error.message : String(error));
  }
}

export interface KeyFilterOptions {
  /** A key must match at least one (none given: every key). */
  readonly include?: readonly string[];
  /** A key matching any is left out, even if included. */
  readonly exclude?: readonly string[];
  /** Objects last modified before this are left out (when the listing gives a date). */
  readonly since?: Date;
}

export interface FilterableObject {
  readonly key: string;
  readonly lastModified?: Date;
}

/** Builds one predicate from include/exclude globs and `since`; patterns are compiled once. */
export function makeKeyFilter(options: KeyFilterOptions): (object: FilterableObject) => boolean {
  const include = (options.include ?? []).map(globToRegExp);
  const exclude = (options.exclude ?? []).map(globToRegExp);
  const since = options.since?.getTime();
  return (object) => {
    if (include.length > 0 && !include.some((re) => re.test(object.key))) return false;
    if (exclude.some((re) => re.test(object.key))) return false;
    if (since !== undefined && object.lastModified !== undefined && object.lastModified.getTime() < since) {
      return false;
    }
    return true;
  };
}

/** Parses `--since`: an ISO date or date-time, or a relative age like `7d`, `12h`, `30m`. */
export function parseSince(text: string, now: Date = new Date()): Date {
  const relative = /^(\d+)\s*([dhm])$/i.exec(text.trim());
  if (relative) {
    const unitMs = { d: 86_400_000, h: 3_600_000, m: 60_000 }[relative[2]!.toLowerCase() as "d" | "h" | "m"];
    return new Date(now.getTime() - Number(relative[1]) * unitMs);
  }
  if (/^\d{4}-\d{2}-\d{2}/.test(text.trim())) {
    const date = new Date(text.trim());
    if (!Number.isNaN(date.getTime())) return date;
  }
  throw new UnjpegError(
    "BACKFILL_BAD_SINCE",
    `--since must be an ISO date (2024-01-31, 2024-01-31T12:00:00Z) or an age (7d, 12h, 30m), got "${text}"`,
    { status: 400 },
  );
}
