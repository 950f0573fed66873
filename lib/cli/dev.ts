/**
 * `unjpeg dev` (what `npm start` runs): the local stack on loopback. An s3rver with a bucket `media` (data
 * under .unjpeg/) whose object events reach the upload function's own loop and answer (lib/storage/upload.ts,
 * what handlers/s3-upload.ts wraps for Lambda), as real S3 event notifications. Services are a list of starters, each returning something to close: adding one
 * (the CDN origin's HTTP server) is one more entry in SERVICES.
 */
import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import { type Config, loadConfigWith } from "../config.js";
import { isUnjpegError } from "../errors.js";
import { startHttpService } from "../http/dev-service.js";
import type { Deriver } from "../storage/derive.js";
import { createDeriver } from "../storage/deriver.js";
import { LOCAL_CREDENTIALS, LOCAL_KEY_LIMITS, startLocalS3 } from "../storage/local-s3.js";
import type { Decision } from "../storage/report.js";
import { handleUploadEvent, invocationAnswer } from "../storage/upload.js";
import { integerOption, parseCommandArgs, UsageError } from "./args.js";

const USAGE = `usage: unjpeg dev [--data DIR] [--model DIR] [--concurrency N] [--json]

Starts the local stack on 127.0.0.1: an S3-compatible server (port UNJPEG_S3_PORT, default 4569) with a
bucket "media"; every JPEG uploaded to it is handled by the upload handler, and a restored derivative is
written beside it when it needs one. Stop with Ctrl-C.
  --data DIR         where objects are kept (default .unjpeg)
  --model DIR        model folder (default UNJPEG_MODEL_DIR, else the shipped model)
  --concurrency N    uploads handled at once (default 2)
  --json             print each decision as its JSON line (default: one short line)
  -h, --help         this text`;

export const LOCAL_BUCKET = "media";
const ADDRESS = "127.0.0.1";

/** What every service of the stack may use. */
export interface DevContext {
  /** The configuration, pointed at the local S3. */
  readonly config: Config;
  readonly dataDir: string;
  readonly s3Endpoint: string;
  readonly deriver: Deriver;
  readonly json: boolean;
  readonly concurrency: number;
}

export interface RunningService {
  readonly name: string;
  /** Lines printed under the banner (addresses, examples). */
  readonly banner: readonly string[];
  close(): Promise<void>;
}

/** Starting the stack: S3 first (it fixes the endpoint every other service uses), then these, in order. */
export type ServiceStarter = (context: DevContext) => Promise<RunningService>;

/** Services started after S3. The CDN origin's HTTP server (on UNJPEG_HTTP_PORT) goes here. */
export const SERVICES: ServiceStarter[] = [(context) => startHttpService(context, { bucket: LOCAL_BUCKET })];

export interface DevStack {
  readonly context: DevContext;
  readonly services: readonly RunningService[];
  /** Closes every service, last started first. */
  close(): Promise<void>;
}

/** Starts the whole stack; on a failure, closes what had started and rethrows. */
export async function startDevStack(
  config: Config,
  options: { dataDir: string; json?: boolean; concurrency?: number; log?: (line: string) => void },
): Promise<DevStack> {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const json = options.json ?? false;
  const concurrency = options.concurrency ?? 2;
  await mkdir(options.dataDir, { recursive: true });
  // The core needs S3's endpoint, S3 needs the handler: the handler waits for the core built just below.
  let resolveDeriver!: (deriver: Deriver) => void;
  let rejectDeriver!: (error: unknown) => void;
  const deriverReady = new Promise<Deriver>((done, fail) => {
    resolveDeriver = done;
    rejectDeriver = fail;
  });
  deriverReady.catch(() => undefined);
  // The upload function's own loop and answer (lib/storage/upload.ts), as Lambda runs them.
  const sink = (line: string, decision: Decision) => log(json ? line : summarize(decision));
  const handler = async (event: unknown) =>
    invocationAnswer(await handleUploadEvent(await deriverReady, event, { sink }));
  const services: RunningService[] = [];
  const cleanups: (() => void)[] = [];
  const close = async () => {
    for (const service of services.splice(0).reverse()) await service.close();
    for (const cleanup of cleanups.splice(0)) cleanup();
  };
  try {
    const s3 = await startLocalS3({
      port: config.s3Port,
      address: ADDRESS,
      directory: resolve(options.dataDir, "s3"),
      buckets: [LOCAL_BUCKET],
      concurrency,
      // Lambda's context is absent here: no deadline, as with a long local run.
      handler,
      onHandlerError: (error) =>
        log(`upload handler failed: ${error instanceof Error ? error.message : error}`),
    });
    services.push({ name: "s3", banner: s3Banner(s3.endpoint), close: () => s3.close() });
    const local: Config = Object.freeze({ ...config, s3Endpoint: s3.endpoint, s3ForcePathStyle: true });
    const deriver = await createDeriver(local, {
      s3Options: { credentials: LOCAL_CREDENTIALS },
      keyLimits: LOCAL_KEY_LIMITS,
    });
    cleanups.push(() => deriver.s3.destroy());
    resolveDeriver(deriver);
    const context: DevContext = {
      config: local,
      dataDir: options.dataDir,
      s3Endpoint: s3.endpoint,
      deriver,
      json,
      concurrency,
    };
    for (const start of SERVICES) services.push(await start(context));
    return { context, services, close };
  } catch (error) {
    rejectDeriver(error);
    await close();
    throw error;
  }
}

function s3Banner(endpoint: string): string[] {
  return [
    `S3         ${endpoint}   bucket: ${LOCAL_BUCKET}   region: us-east-1 (path-style)`,
    `           access key: ${LOCAL_CREDENTIALS.accessKeyId}   secret key: ${LOCAL_CREDENTIALS.secretAccessKey}`,
    "",
    "Upload a JPEG (its restored derivative appears beside it, e.g. photos/cat.restored.jpg):",
    `  AWS_ACCESS_KEY_ID=${LOCAL_CREDENTIALS.accessKeyId} AWS_SECRET_ACCESS_KEY=${LOCAL_CREDENTIALS.secretAccessKey} AWS_REGION=us-east-1 \\`,
    `    aws --endpoint-url ${endpoint} s3 cp cat.jpg s3://${LOCAL_BUCKET}/photos/cat.jpg`,
    `  curl -T cat.jpg ${endpoint}/${LOCAL_BUCKET}/photos/cat.jpg`,
    "Fetch the result:",
    `  curl -o cat.restored.jpg ${endpoint}/${LOCAL_BUCKET}/photos/cat.restored.jpg`,
  ];
}

/** One short line per decision for a person watching the terminal. */
export function summarize(d: Decision): string {
  const what = `${d.key ?? "?"}`;
  switch (d.action) {
    case "written":
      return `restored  ${what} → ${d.derivativeKey} (quality ${d.quality ?? "?"}, ${Math.round(d.restoreMs ?? 0)} ms)`;
    case "skipped":
      return `skipped   ${what}: ${d.reason}${d.message ? ` (${d.message})` : ""}`;
    case "deleted":
      return `deleted   derivatives of ${what}: ${(d["deleted"] as string[] | undefined)?.join(", ") || "none"}`;
    case "failed":
      return `FAILED    ${what}: ${d.reason}: ${d.message ?? ""}`;
    default:
      return `${d.action.padEnd(9)} ${what}`;
  }
}

export async function main(argv: string[]): Promise<number> {
  let values: { data?: string; model?: string; concurrency?: string; json?: boolean; help?: boolean };
  try {
    ({ values } = parseCommandArgs(argv, {
      data: { type: "string" },
      model: { type: "string" },
      concurrency: { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    }));
    if (values.concurrency !== undefined && !/^[1-9]\d*$/.test(values.concurrency)) {
      throw new UsageError(`--concurrency must be a positive integer, got "${values.concurrency}"`);
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`unjpeg dev: ${error.message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const model = values.model === undefined ? undefined : resolve(values.model);
  const config = loadConfigWith({ UNJPEG_MODEL_DIR: model });
  const dataDir = resolve(values.data ?? ".unjpeg");
  let stack: DevStack;
  try {
    stack = await startDevStack(config, {
      dataDir,
      json: values.json,
      concurrency: integerOption("concurrency", values.concurrency, { max: 64 }) ?? 2,
    });
  } catch (error) {
    if (isUnjpegError(error)) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE") {
      process.stderr.write(`unjpeg dev: port ${config.s3Port} is in use; set UNJPEG_S3_PORT to another\n`);
      return 1;
    }
    throw error;
  }
  process.stdout.write(
    [
      `unjpeg local stack (model ${stack.context.deriver.model}, data in ${dataDir})`,
      "",
      ...stack.services.flatMap((s) => s.banner),
      "",
      "Ctrl-C stops it.",
      "",
    ].join("\n"),
  );
  await new Promise<void>((done) => {
    const stop = (signal: NodeJS.Signals) => {
      process.stdout.write(
        `\n${signal}: stopping (finishing uploads in progress; Ctrl-C again to quit now)\n`,
      );
      process.once("SIGINT", () => process.exit(130));
      stack.close().then(done, (error) => {
        process.stderr.write(`unjpeg dev: ${String(error)}\n`);
        done();
      });
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  return 0;
}
