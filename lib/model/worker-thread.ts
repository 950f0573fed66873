/**
 * The model worker: a worker thread that owns the process's onnxruntime sessions and runs them, so that
 * the calling thread cuts out the next tile and blends the last one while a model runs (onnxruntime-node's
 * run blocks the thread it is called on). Jobs run one at a time, in the order they came. Input buffers
 * are lent (transferred here and back) and outputs transferred: no pixel tensor is copied between threads.
 */
import { parentPort } from "node:worker_threads";
import ort from "onnxruntime-node";
import { stepper } from "../restore/stepper.js";
import type { ModelFolder } from "./model-folder.js";
import { runStage } from "./run-stage.js";
import { hasThreadCpu, listThreads, ownThreadCpuMs, processCpuMs, threadsCpuMs } from "./thread-cpu.js";
import { createLocalSessions, type LocalSessions } from "./thread-sessions.js";
import { runTileChain } from "./tile-chain.js";
import type { Measured, Opened, Request, Response, WireError, WireTensor } from "./worker-protocol.js";

const port = parentPort;
if (port === null) throw new Error("lib/model/worker-thread runs as a worker thread");

interface Open extends LocalSessions {
  readonly model: ModelFolder;
}

interface Done {
  readonly result: unknown;
  readonly measured?: Measured;
  /** Output arrays whose buffers go back transferred. */
  readonly views?: readonly ArrayBufferView[];
  readonly lent?: readonly ArrayBuffer[];
}

const opened = new Map<number, Open>();
let nextHandle = 1;
/** onnxruntime's pool threads (created with the sessions): their CPU time is the model's too. */
const sessionThreads = new Set<number>();

/** CPU ms of this thread and onnxruntime's pool threads; the whole process's where /proc cannot tell. */
function modelCpuMs(): number {
  if (!hasThreadCpu()) return processCpuMs();
  return (ownThreadCpuMs() ?? 0) + (threadsCpuMs([...sessionThreads]) ?? 0);
}

/** Runs `run` with a stepper whose CPU clock is the model's threads; returns its result and measures. */
async function measure<T>(
  run: (step: ReturnType<typeof stepper>) => Promise<T>,
): Promise<{ value: T; measured: Measured }> {
  const timings: Record<string, number> = {};
  const cpuTimings: Record<string, number> = {};
  const value = await run(stepper(timings, cpuTimings, undefined, modelCpuMs));
  return { value, measured: { timings, cpuTimings } };
}

function sessionsOf(handle: number): Open {
  const found = opened.get(handle);
  if (found === undefined) throw new Error(`no open model #${handle}`);
  return found;
}

async function handle(request: Request): Promise<Done> {
  switch (request.op) {
    case "open": {
      const before = new Set(listThreads());
      const local = await createLocalSessions(
        request.model,
        request.provider,
        request.threads,
        request.memoryArena,
      );
      for (const tid of listThreads()) if (!before.has(tid)) sessionThreads.add(tid);
      const handle = nextHandle++;
      opened.set(handle, { ...local, model: request.model });
      const inputTypes = Object.fromEntries(
        Object.entries(local.stages).map(([name, stage]) => [name, stage.inputTypes]),
      ) as Opened["inputTypes"];
      return { result: { handle, provider: local.provider, inputTypes } satisfies Opened };
    }
    case "stage": {
      const sessions = sessionsOf(request.handle);
      const { value, measured } = await measure((step) =>
        step(request.stage, () => runStage(sessions, request.stage, request.values)),
      );
      const views = Object.values(value).map((v) => v!.data);
      return { result: value, measured, views, lent: request.lent };
    }
    case "run": {
      const { session } = sessionsOf(request.handle).stages[request.stage];
      const feeds: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(request.feeds)) {
        feeds[name] = new ort.Tensor(t.type as "float32", t.data as Float32Array, t.dims);
      }
      const results = await session.run(feeds);
      const out: Record<string, WireTensor> = {};
      for (const [name, value] of Object.entries(results)) {
        const tensor = value as ort.Tensor;
        out[name] = { type: tensor.type, data: tensor.data as ArrayBufferView, dims: tensor.dims };
      }
      return { result: out, views: Object.values(out).map((t) => t.data) };
    }
    case "tile": {
      const sessions = sessionsOf(request.handle);
      const { value, measured } = await measure((step) =>
        runTileChain(sessions, request.lq, request.shared, step),
      );
      return { result: value, measured, views: [value.data], lent: request.lent };
    }
    case "stop": {
      for (const sessions of opened.values()) {
        for (const stage of Object.values(sessions.stages)) await stage.session.release();
      }
      opened.clear();
      setImmediate(() => port!.close()); // after the reply: the worker ends when its port is closed
      return { result: null };
    }
    case "crash":
      setImmediate(() => {
        throw new Error("model worker crash (test)");
      });
      return { result: null };
    case "release": {
      const sessions = opened.get(request.handle);
      opened.delete(request.handle);
      for (const stage of Object.values(sessions?.stages ?? {})) await stage.session.release();
      return { result: null };
    }
  }
}

function wireError(error: unknown): WireError {
  const e = error as { name?: string; message?: string; code?: unknown; field?: unknown; stack?: string };
  return {
    name: typeof e?.name === "string" ? e.name : "Error",
    message: typeof e?.message === "string" ? e.message : String(error),
    code: typeof e?.code === "string" ? e.code : undefined,
    field: typeof e?.field === "string" ? e.field : undefined,
    stack: e?.stack,
  };
}

function reply(id: number, done: Done): void {
  const message: Response = { id, ok: true, result: done.result, measured: done.measured, lent: done.lent };
  const transfer = new Set<ArrayBuffer>(done.lent);
  for (const view of done.views ?? []) if (view.buffer instanceof ArrayBuffer) transfer.add(view.buffer);
  try {
    port!.postMessage(message, [...transfer]);
  } catch {
    port!.postMessage(message); // a buffer that cannot be transferred is copied
  }
}

// One job at a time: each run has the cores to itself, and its timings are its own.
let queue: Promise<void> = Promise.resolve();
port.on("message", (message: { id: number; request: Request }) => {
  queue = queue.then(async () => {
    try {
      reply(message.id, await handle(message.request));
    } catch (error) {
      port.postMessage({ id: message.id, ok: false, error: wireError(error) } satisfies Response);
    }
  });
});
