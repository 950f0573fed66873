/** Command-line parsing shared by the subcommands: node:util parseArgs, with usage errors typed. */
import { type ParseArgsConfig, parseArgs } from "node:util";
import { UnjpegError } from "../errors.js";

/** A command line that does not parse; commands answer it with their usage and exit status 2. */
export class UsageError extends UnjpegError {
  constructor(message: string) {
    super("CLI_USAGE", message, { status: 400 });
  }
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/** What parseArgs returns for these options: typed `values` and the `positionals`. */
export type ParsedArgs<O extends Options> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>
>;

/** Strict parsing (unknown options are errors), positionals allowed. */
export function parseCommandArgs<const O extends Options>(argv: string[], options: O): ParsedArgs<O> {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/**
 * An integer option (`--name N`): undefined when not given, else an integer within `min`..`max` or a usage
 * error that names the option and the range. The one integer parser of the commands.
 */
export function integerOption(
  name: string,
  text: string | undefined,
  range: { readonly min?: number; readonly max?: number } = {},
): number | undefined {
  if (text === undefined) return undefined;
  const { min = 1, max = Number.MAX_SAFE_INTEGER } = range;
  const value = /^\s*-?\d+\s*$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `of ${min} or more` : `from ${min} to ${max}`;
    throw new UsageError(`--${name} must be an integer ${range}, got "${text}"`);
  }
  return value;
}

/** `--quality`: auto (also when absent) or a forced encoder quality 1..100. */
export function qualityOption(text: string | undefined): number | "auto" {
  if (text === undefined || text === "auto") return "auto";
  try {
    return integerOption("quality", text, { max: 100 })!;
  } catch {
    throw new UsageError(`--quality must be auto or an integer from 1 to 100, got "${text}"`);
  }
}
