/**
 * `unjpeg sign URL...`: prints each CDN-origin URL signed with the first key of UNJPEG_SIGNING_KEYS (or
 * --key), optionally expiring. The signature covers the path and every parameter (docs/CONTRACTS.md).
 */
import { loadConfig } from "../config.js";
import { signUrl } from "../http/signing.js";
import { parseCommandArgs, UsageError } from "./args.js";

const USAGE = `usage: unjpeg sign [--expires-in DURATION | --expires UNIX] [--key KEY] URL...

Prints each URL (absolute, or a path such as /photos/cat.jpg?format=webp) with expires= (when asked) and
sig= appended: the hex HMAC-SHA256 the CDN origin checks when UNJPEG_SIGNING_KEYS is set.
  --expires-in D  valid for D from now: seconds, or a number with s, m, h or d (e.g. 7d)
  --expires T     valid until Unix time T (seconds)
  --key KEY       sign with KEY instead of the first key of UNJPEG_SIGNING_KEYS
  -h, --help      this text
Exit status: 0 signed, 1 no key, 2 bad usage.`;

const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86400 };

/** `90`, `90s`, `15m`, `12h`, `7d` → seconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(text.trim());
  if (match === null)
    throw new UsageError(`--expires-in must be a number of seconds or end in s, m, h or d, got "${text}"`);
  return Number(match[1]) * UNIT_SECONDS[match[2] || "s"]!;
}

export async function main(argv: string[], now: () => number = () => Date.now() / 1000): Promise<number> {
  let values: { help?: boolean; key?: string; expires?: string; "expires-in"?: string };
  let urls: string[];
  let expires: number | undefined;
  try {
    const parsed = parseCommandArgs(argv, {
      help: { type: "boolean", short: "h" },
      key: { type: "string" },
      expires: { type: "string" },
      "expires-in": { type: "string" },
    });
    values = parsed.values;
    urls = parsed.positionals;
    if (values.help === true) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    if (urls.length === 0) throw new UsageError("no URL given");
    if (values.expires !== undefined && values["expires-in"] !== undefined) {
      throw new UsageError("give --expires or --expires-in, not both");
    }
    if (values.expires !== undefined) {
      if (!/^\d{1,12}$/.test(values.expires))
        throw new UsageError("--expires must be a Unix time in seconds");
      expires = Number(values.expires);
    } else if (values["expires-in"] !== undefined) {
      expires = Math.floor(now()) + parseDuration(values["expires-in"]);
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`unjpeg sign: ${error.message}\n${USAGE}\n`);
    return 2;
  }
  const key = values.key ?? loadConfig().signingKeys[0];
  if (key === undefined || key === "") {
    process.stderr.write(
      "unjpeg sign: no key: set UNJPEG_SIGNING_KEYS (the first key signs) or pass --key\n",
    );
    return 1;
  }
  for (const url of urls) {
    process.stdout.write(`${signUrl(url, { key, ...(expires === undefined ? {} : { expires }) })}\n`);
  }
  return 0;
}
