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
