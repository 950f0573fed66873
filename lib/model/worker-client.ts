/**
 * The calling thread's side of the model worker (lib/model/worker-thread.ts): one worker per process,
 * started on first use, holding the event loop open only while a job is pending. A worker that dies fails
 * its pending jobs with a ModelError (MODEL_RUN_FAILED) and is replaced on the next use; sessions it held
 * are then created again (lib/model/sessions.ts compares `liveWorker()` with the worker they were made in).
 */
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { ModelError, type ModelErrorCode } from "./errors.js";
import type { Measured, Request, Response, WireError } from "./worker-protocol.js";

const MODEL_CODES: readonly string[] = [
  "MODEL_NOT_FOUND",
  "MODEL_MANIFEST_INVALID",
  "MODEL_CHECKSUM_MISMATCH",
  "MODEL_LOAD_FAILED",
  "MODEL_RUN_FAILED",
] satisfies ModelErrorCode[];

export interface Reply {
  readonly result: unknown;
  readonly measured?: Measured;
  readonly lent?: readonly ArrayBuffer[];
}

interface Pending {
  resolve(response: Reply): void;
  reject(error: Error): void;
}

interface Live {
  readonly worker: Worker;
  readonly number: number;
  readonly pending: Map<number, Pending>;
}

let live: Live | undefined;
let workers = 0;
let nextId = 1;

/** A number for the worker running now (each new worker has a new one), or undefined when none runs. */
export function liveWorker(): number | undefined {
  return live?.number;
}

/** The loader flags this process runs with (tsx from source), which the worker needs to load its module. */
function loaderArgs(): string[] {
  const out: string[] = [];
  const argv = process.execArgv;
  for (let k = 0; k < argv.length; k++) {
    const arg = argv[k]!;
    if (/^--(import|require|loader|experimental-loader)=/.test(arg)) out.push(arg);
    else if (/^(--import|--require|-r|--loader|--experimental-loader)$/.test(arg) && k + 1 < argv.length) {
      out.push(arg, argv[++k]!);
    }
  }
  return out;
}

function sourceEntry(entry: URL): string {
  const tsx = import.meta.resolve("tsx/esm/api");
  return `import(${JSON.stringify(tsx)}).then((tsx) => tsx.register()).then(() => import(${JSON.stringify(entry.href)}));`;
}

function start(): Live {
  // From source (tsx) the module is worker-thread.ts; compiled, worker-thread.js beside this file.
  const fromSource = fileURLToPath(import.meta.url).endsWith(".ts");
  const entry = new URL(fromSource ? "./worker-thread.ts" : "./worker-thread.js", import.meta.url);
  // From source (tests, tsx), a script registers tsx in the worker first: Node 20 does not apply the
  // parent's --import loader hooks to a worker's modules.
  const worker = fromSource
    ? new Worker(sourceEntry(entry), { eval: true, execArgv: loaderArgs() })
    : new Worker(entry, { execArgv: loaderArgs() });
  const started: Live = { worker, number: ++workers, pending: new Map() };
  const { pending } = started;
  worker.unref();
  worker.on("message", (response: Response) => {
    const job = pending.get(response.id);
    if (job === undefined) return;
    pending.delete(response.id);
    if (pending.size === 0) worker.unref();
    if (response.ok) job.resolve(response);
    else job.reject(fromWire(response.error));
  });
  let lastError: Error | undefined;
  worker.on("error", (error) => {
    lastError = error;
  });
  worker.on("exit", (code) => {
    if (live === started) live = undefined;
    const reason = lastError?.message ?? `exit code ${code}`;
    for (const job of pending.values()) {
      job.reject(new ModelError("MODEL_RUN_FAILED", `the model worker stopped (${reason})`));
    }
    pending.clear();
  });
  return started;
}

function fromWire(error: WireError): ModelError {
  const cause = Object.assign(new Error(error.message), { name: error.name, stack: error.stack });
  const code = MODEL_CODES.includes(error.code ?? "") ? (error.code as ModelErrorCode) : "MODEL_RUN_FAILED";
  return new ModelError(code, error.message, { field: error.field, cause });
}

/**
 * Sends a job to the worker (starting one if none runs); `transfer` lists buffers handed over. `to`: the
 * worker that must run it (its sessions are there); when that one has stopped, the job fails at once.
 */
export function callWorker(
  request: Request,
  transfer: readonly ArrayBuffer[] = [],
  to?: number,
): Promise<Reply> {
  if (to !== undefined && live?.number !== to) {
    const error = new ModelError("MODEL_RUN_FAILED", "the model worker stopped (its sessions went with it)");
    return Promise.reject(error);
  }
  live ??= start();
  const { worker, pending } = live;
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker.ref();
    try {
      worker.postMessage({ id, request }, [...transfer]);
    } catch (error) {
      pending.delete(id);
      if (pending.size === 0) worker.unref();
      reject(new ModelError("MODEL_RUN_FAILED", `cannot send to the model worker: ${String(error)}`));
    }
  });
}

/** Ends the worker (its sessions with it); the next job starts a new one. */
export async function stopModelWorker(): Promise<void> {
  await endWorker("stop");
}

/** Makes the worker throw outside any job, as a bug would (tests: a worker that dies). */
export async function crashModelWorker(): Promise<void> {
  await endWorker("crash");
}

/**
 * Never worker.terminate() while onnxruntime may be running there: ending the thread inside a native
 * run aborts the whole process (onnxruntime-node throws a C++ exception nothing catches). The worker ends
 * itself, after the jobs already sent; jobs sent to it later fail at once (callWorker `to`).
 */
async function endWorker(op: "stop" | "crash"): Promise<void> {
  const current = live;
  if (current === undefined) return;
  live = undefined;
  const ended = new Promise<void>((resolve) => current.worker.once("exit", () => resolve()));
  current.worker.ref();
  current.worker.postMessage({ id: 0, request: { op } });
  await ended;
}
