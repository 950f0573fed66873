#!/usr/bin/env node
/**
 * The `unjpeg` command. Each subcommand lives in its own module, loaded only when used, so `inspect`
 * starts without loading sharp or onnxruntime.
 */
import { UnjpegError } from "../errors.js";

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  inspect: {
    summary: "inspect [--json] FILE...              JPEG quality from the quantization tables",
    load: async () => (await import("./inspect.js")).main,
  },
  sign: {
    summary: "sign [--expires-in D] URL...            signed CDN-origin URLs (UNJPEG_SIGNING_KEYS)",
    load: async () => (await import("./sign.js")).main,
  },
  restore: {
    summary:
      "restore IN... [-o OUT | --out-dir DIR] [--format F] [--force] [--json] [--model DIR]  restore files",
    load: async () => (await import("./restore.js")).main,
  },
  backfill: {
    summary: "backfill s3://bucket/prefix [options]  restore an existing archive (resumable)",
    load: async () => (await import("./backfill.js")).main,
  },
  enqueue: {
    summary: "enqueue s3://bucket/prefix --queue-url URL  fan a listing out to an SQS queue",
    load: async () => (await import("./enqueue.js")).main,
  },
  worker: {
    summary: "worker --queue-url URL [options]       process an SQS queue of S3 events",
    load: async () => (await import("./worker.js")).main,
  },
  eval: {
    summary: "eval --set DIR [--qualities 5,10,...] [--json] [--model DIR] [--limit N]  benchmark the model",
    load: async () => (await import("./eval.js")).main,
  },
  dev: {
    summary: "dev [--data DIR] [--model DIR]            the local stack (what `npm start` runs)",
    load: async () => (await import("./dev.js")).main,
  },
};

function usage(): string {
  const lines = Object.values(COMMANDS).map((c) => `  unjpeg ${c.summary}`);
  return `usage:\n${lines.join("\n")}\n\nRun "unjpeg <command> --help" for a command's options.`;
}

export async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(`${usage()}\n`);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    process.stderr.write(`unjpeg: unknown command "${name}"\n${usage()}\n`);
    return 2;
  }
  try {
    return await (await command.load())(rest);
  } catch (error) {
    if (error instanceof UnjpegError) {
      process.stderr.write(`unjpeg ${name}: ${error.message} [${error.code}]\n`);
      return 1;
    }
    throw error;
  }
}

// `npm run unjpeg -- ...` runs in the package root; INIT_CWD is where the user typed it, so relative
// paths resolve where the user expects. Process context, not configuration: loadConfig is not involved.
const invokedFrom = process.env["INIT_CWD"];
if (invokedFrom !== undefined && process.env["npm_lifecycle_event"] !== undefined) process.chdir(invokedFrom);

process.exitCode = await run(process.argv.slice(2));
