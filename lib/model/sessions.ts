/**
 * The one way into onnxruntime: sessions are created here, once per process per model folder, provider
 * and thread count, and reused (a warm Lambda container must not reload its graphs). They live in the
 * model worker (lib/model/worker-thread.ts), a worker thread, so that the calling thread prepares and blends
 * tiles while a model runs, or in the calling thread (the default where no core is left over for that).
 */
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import ort from "onnxruntime-node";
import { STAGE_NAMES, type StageName } from "./manifest.js";
import { loadModelFolder, type ModelFolder } from "./model-folder.js";
import type { Value, Values } from "./run-stage.js";
import {
  createLocalSessions,
  type ExecutionProvider,
  type StageRunner,
  type StageSession,
} from "./thread-sessions.js";
import { callWorker, liveWorker, stopModelWorker } from "./worker-client.js";
import type { Measured, Opened, WireTensor } from "./worker-protocol.js";

export type { ExecutionProvider, StageRunner, StageSession } from "./thread-sessions.js";

export interface SessionOptions {
  readonly provider?: ExecutionProvider;
  /** onnxruntime intra-op threads; default the cores this process may use. */
  readonly threads?: number;
  /**
   * onnxruntime's CPU memory arena (default on): faster, and bounded by the largest tile; off returns
   * memory to the system after every run, for hosts where the last few hundred MB matter more than time.
   */
  readonly memoryArena?: boolean;
  /**
   * Run the sessions in the model worker or in the calling thread; default: in the worker when a core is
   * left over for this thread's work (`threads` below the cores) or with CUDA, see defaultInWorker.
   */
  readonly inWorker?: boolean;
}

/**
 * Model runs in the model worker, each measured there (wall, and CPU of the model's own threads). Buffers
 * in `lend` (and `lq`'s) are transferred to the worker, unusable here until they come back in `lent`, in
 * the same order; on failure they do not come back.
 */
export interface RemoteModel {
  stage(
    name: StageName,
    values: Values,
    lend?: readonly ArrayBuffer[],
  ): Promise<{ values: Values; measured: Measured; lent: readonly ArrayBuffer[] }>;
  /**
   * Encoder → UNet → x0 → decoder on one tile (lib/model/tile-chain.ts) with the values every tile shares;
   * `lq`'s buffer is lent.
   */
  tile(lq: Value, shared: Values): Promise<{ image: Value; measured: Measured; lent: ArrayBuffer }>;
}

export interface ModelSessions {
  readonly model: ModelFolder;
  /** The provider the sessions actually run on (CUDA falls back to CPU when it is not installed). */
  readonly provider: ExecutionProvider;
  readonly threads: number;
  readonly stages: Readonly<Record<StageName, StageSession>>;
  /** Present when the sessions live in the model worker. */
  readonly remote?: RemoteModel;
}

interface Entry {
  readonly pending: Promise<ModelSessions>;
  /** The model worker the sessions were created in (undefined: this thread, or not yet known). */
  worker?: number;
}

const cache = new Map<string, Entry>();
/** Session sets this process has started to create (a failed one included): diagnostics and tests. */
let created = 0;

/**
 * How many session sets this process has started to create. Restores running together for one model
 * folder, provider and thread count share one set: this grows by one per set, not per restore.
 */
export function sessionSetsCreated(): number {
  return created;
}

export function defaultThreads(): number {
  return Math.max(1, availableParallelism());
}

/**
 * Whether the model runs in the model worker by default: where onnxruntime leaves a core free, and with
 * CUDA, whose runs wait on the GPU rather than use the cores (the calling thread's event loop then stays
 * free for the other invocations in flight: S3 reads and writes, decoding, encoding). Without a free core
 * on the CPU, the tile work that would overlap the model slows its threads as much as it hides
 * (bench/restore.ts, 2 cores, 2 threads, 4 MP, restores alternating in one process: 2.24 s a restore
 * in the worker against 2.03 s in the calling thread).
 */
export function defaultInWorker(
  threads: number = defaultThreads(),
  provider: ExecutionProvider = "cpu",
): boolean {
  return provider === "cuda" || threads < availableParallelism();
}

/** Sessions for a model folder, created on first use and cached for the life of the process. */
export function openModel(dir: string, options: SessionOptions = {}): Promise<ModelSessions> {
  const provider = options.provider ?? "cpu";
  const threads = options.threads ?? defaultThreads();
  const memoryArena = options.memoryArena ?? true;
  const inWorker = options.inWorker ?? defaultInWorker(threads, provider);
  const key = `${resolve(dir)}\u0000${provider}\u0000${threads}\u0000${memoryArena}\u0000${inWorker}`;
  let entry = cache.get(key);
  // Sessions of a model worker that has stopped since are gone with it.
  if (entry?.worker !== undefined && entry.worker !== liveWorker()) entry = undefined;
  if (entry === undefined) {
    created++;
    const made: Entry = {
      pending: inWorker
        ? openRemote(dir, provider, threads, memoryArena, (worker) => {
            made.worker = worker;
          })
        : openLocal(dir, provider, threads, memoryArena),
    };
    entry = made;
    cache.set(key, made);
    // A failed load is not cached: the next call tries again (the folder may have been fixed).
    made.pending.catch(() => {
      if (cache.get(key) === made) cache.delete(key);
    });
  }
  return entry.pending;
}

/** Releases every cached session and ends the model worker (tests, and processes that switch models). */
export async function closeAllModels(): Promise<void> {
  const all = [...cache.values()];
  cache.clear();
  for (const entry of all) {
    const sessions = await entry.pending.catch(() => undefined);
    if (sessions === undefined || sessions.remote !== undefined) continue;
    for (const name of STAGE_NAMES) await sessions.stages[name].session.release();
  }
  await stopModelWorker();
}

async function openLocal(
  dir: string,
  provider: ExecutionProvider,
  threads: number,
  memoryArena: boolean,
): Promise<ModelSessions> {
  const model = await loadModelFolder(dir);
  const local = await createLocalSessions(model, provider, threads, memoryArena);
  return { model, provider: local.provider, threads, stages: local.stages };
}

async function openRemote(
  dir: string,
  provider: ExecutionProvider,
  threads: number,
  memoryArena: boolean,
  createdIn: (worker: number | undefined) => void,
): Promise<ModelSessions> {
  const model = await loadModelFolder(dir);
  const call = callWorker({ op: "open", model, provider, threads, memoryArena });
  const worker = liveWorker();
  createdIn(worker);
  const opened = (await call).result as Opened;
  const { handle } = opened;
  const stages = {} as Record<StageName, StageSession>;
  for (const name of STAGE_NAMES) {
    stages[name] = { inputTypes: opened.inputTypes[name], session: remoteSession(handle, name, worker) };
  }
  const remote: RemoteModel = {
    async stage(name, values, lend = []) {
      const reply = await callWorker({ op: "stage", handle, stage: name, values, lent: lend }, lend, worker);
      return { values: reply.result as Values, measured: reply.measured!, lent: reply.lent ?? [] };
    },
    async tile(lq, shared) {
      const lend = [lq.data.buffer as ArrayBuffer];
      const reply = await callWorker({ op: "tile", handle, lq, shared, lent: lend }, lend, worker);
      return { image: reply.result as Value, measured: reply.measured!, lent: reply.lent![0]! };
    },
  };
  return { model, provider: opened.provider, threads, stages, remote };
}

/** A session's own run, on graph-named tensors, in the model worker (what runStage calls). */
function remoteSession(handle: number, stage: StageName, worker: number | undefined): StageRunner {
  return {
    async run(feeds) {
      const wire: Record<string, WireTensor> = {};
      for (const [name, t] of Object.entries(feeds)) {
        wire[name] = { type: t.type, data: t.data as ArrayBufferView, dims: t.dims };
      }
      const { result } = await callWorker({ op: "run", handle, stage, feeds: wire }, [], worker);
      const out: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(result as Record<string, WireTensor>)) {
        out[name] = new ort.Tensor(t.type as "float32", t.data as Float32Array, t.dims);
      }
      return out;
    },
    // Sessions are released together, with the worker (closeAllModels).
    release: () => Promise.resolve(),
  };
}
