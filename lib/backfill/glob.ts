/**
 * Key filters for backfill: glob patterns over S3 keys and a modification-date floor. Keys are paths with
 * `/` separators, so the glob dialect is the shell's: `*` and `?` stay within one path segment, `**`
 * crosses segments, `{a,b}` alternates, `[...]` is a character class.
 */
import { UnjpegError } from "../errors.js";

export class GlobError extends UnjpegError {
  constructor(pattern: string, why: string) {
    super("BACKFILL_BAD_GLOB", `invalid glob "${pattern}": ${why}`, { status: 400 });
  }
}

const REGEXP_SPECIAL = new Set([..."\\^$.|+()[]{}*?"]);

/** Compiles one glob to an anchored RegExp matching whole keys. */
export function globToRegExp(pattern: string): RegExp {
  if (pattern === "") throw new GlobError(pattern, "empty pattern");
  let source = "";
  let braceDepth = 0;
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i]!;
    if (char === "*") {
      if (pattern[i + 1] === "*") {
        i++;
        // `**/` also matches zero segments, so `photos/**/*.jpg` matches `photos/a.jpg`.
        if (pattern[i + 1] === "/") {
          i++;
          source += "(?:.*/)?";
        } else {
          source += ".*";
        }
      } else {
        source += "[^/]*";
      }
    } else if (char === "?") {
      source += "[^/]";
    } else if (char === "[") {
      const end = pattern.indexOf("]", i + 2);
      if (end === -1) throw new GlobError(pattern, "unclosed [");
      let body = pattern.slice(i + 1, end);
      if (body.startsWith("!")) body = `^${body.slice(1)}`;
      source += `[${body.replace(/\\/g, "\\\\")}]`;
      i = end;
    } else if (char === "{") {
      braceDepth++;
      source += "(?:";
    } else if (char === "}" && braceDepth > 0) {
      braceDepth--;
      source += ")";
    } else if (char === "," && braceDepth > 0) {
      source += "|";
    } else if (char === "\\" && i + 1 < pattern.length) {
      i++;
      source += escapeChar(pattern[i]!);
    } else {
      source += escapeChar(char);
    }
  }
  if (braceDepth !== 0) throw new GlobError(pattern, "unclosed {");
  try {
    return new RegExp(`^${source}$`, "s");
  } catch (error) {
    throw new GlobError(pattern, (error as Error).message);
  }
}

function escapeChar(char: string): string {
  return REGEXP_SPECIAL.has(char) ? `\\${char}` : char;
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
