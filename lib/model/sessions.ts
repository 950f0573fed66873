/**
 * The one way into onnxruntime: sessions are created here, once per process per model folder, provider
 * and thread count, and reused (a warm Lambda container must not reload its graphs).
 */
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import ort from "onnxruntime-node";
import { ModelError } from "./errors.js";
import { loadModelFolder, type ModelFolder, STAGE_NAMES, type StageName } from "./manifest.js";
import type { FloatType } from "./tensors.js";

export type ExecutionProvider = "cpu" | "cuda";

export interface SessionOptions {
  readonly provider?: ExecutionProvider;
  /** onnxruntime intra-op threads; default the cores this process may use. */
  readonly threads?: number;
  /**
   * onnxruntime's CPU memory arena (default on): faster, and bounded by the largest tile; off returns
   * memory to the system after every run, for hosts where the last few hundred MB matter more than time.
   */
  readonly memoryArena?: boolean;
}

export interface StageSession {
  readonly session: ort.InferenceSession;
  /** The float type each graph input expects, read from the graph (float16 exports take half inputs). */
  readonly inputTypes: Readonly<Record<string, FloatType>>;
}

export interface ModelSessions {
  readonly model: ModelFolder;
  /** The provider the sessions actually run on (CUDA falls back to CPU when it is not installed). */
  readonly provider: ExecutionProvider;
  readonly threads: number;
  readonly stages: Readonly<Record<StageName, StageSession>>;
}

const cache = new Map<string, Promise<ModelSessions>>();

export function defaultThreads(): number {
  return Math.max(1, availableParallelism());
}

/** Sessions for a model folder, created on first use and cached for the life of the process. */
export function openModel(dir: string, options: SessionOptions = {}): Promise<ModelSessions> {
  const provider = options.provider ?? "cpu";
  const threads = options.threads ?? defaultThreads();
  const memoryArena = options.memoryArena ?? true;
  const key = `${resolve(dir)}\u0000${provider}\u0000${threads}\u0000${memoryArena}`;
  let pending = cache.get(key);
  if (pending === undefined) {
    pending = createSessions(dir, provider, threads, memoryArena);
    cache.set(key, pending);
    // A failed load is not cached: the next call tries again (the folder may have been fixed).
    pending.catch(() => cache.delete(key));
  }
  return pending;
}

/** Releases every cached session (tests, and processes that switch models). */
export async function closeAllModels(): Promise<void> {
  const all = [...cache.values()];
  cache.clear();
  for (const pending of all) {
    const sessions = await pending.catch(() => undefined);
    if (sessions === undefined) continue;
    for (const name of STAGE_NAMES) await sessions.stages[name].session.release();
  }
}

function sessionOptions(
  provider: ExecutionProvider,
  threads: number,
  memoryArena: boolean,
): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [provider],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: "all",
    // The arena keeps its high-water mark for the life of the process (4.6 GB against 1.8 GB measured on a
    // whole 2048×1536 input), but tiles bound it here, and without it every run pays fresh page faults:
    // bench/restore.ts measured 12 MP at 16 CPU-s and 1.17 GiB peak with it, 31 CPU-s and 0.62 GiB without.
    enableCpuMemArena: memoryArena,
    // No memory pattern: with it, the second run at each input shape still allocates (the planned block
    // does not fit the chunks the first run left in the arena), so a warm 1 MP restore took 2.6 CPU-s and
    // 61k page faults, against 0.7 CPU-s and 11k without it (12 MP: the same time, less memory).
    enableMemPattern: false,
    executionMode: "sequential",
    // Idle pool threads sleep instead of spin-waiting after each run: on 2 shared cores the spinning
    // burnt ~40 % of the CPU (bench/restore.ts, 12 MP: 11.8 CPU-s, 19.4 s wall with it; 7.1 and 12.8 without).
    extra: { session: { intra_op: { allow_spinning: "0" }, inter_op: { allow_spinning: "0" } } },
  };
}

async function createSessions(
  dir: string,
  requested: ExecutionProvider,
  threads: number,
  memoryArena: boolean,
): Promise<ModelSessions> {
  const model = await loadModelFolder(dir);
  if (requested === "cuda") {
    try {
      return await createSessionsOn(model, "cuda", threads, memoryArena);
    } catch {
      // CUDA requested but its provider library (or a GPU) is not there: run on CPU; `provider` says so.
    }
  }
  return createSessionsOn(model, "cpu", threads, memoryArena);
}

async function createSessionsOn(
  model: ModelFolder,
  provider: ExecutionProvider,
  threads: number,
  memoryArena: boolean,
): Promise<ModelSessions> {
  const stages = {} as Record<StageName, StageSession>;
  for (const name of STAGE_NAMES) {
    try {
      const session = await ort.InferenceSession.create(
        model.files[name],
        sessionOptions(provider, threads, memoryArena),
      );
      stages[name] = describe(model, name, session);
    } catch (cause) {
      // Sessions already created for this attempt would otherwise hold their memory for the process's life.
      for (const done of Object.values(stages)) await done.session.release().catch(() => undefined);
      if (cause instanceof ModelError) throw cause;
      throw new ModelError(
        "MODEL_LOAD_FAILED",
        `onnxruntime could not load ${model.files[name]}: ${String(cause)}`,
        {
          field: `stages.${name}.file`,
          cause,
        },
      );
    }
  }
  return { model, provider, threads, stages };
}

/** Checks that the graph has the inputs and outputs the manifest names, and reads their float types. */
function describe(model: ModelFolder, name: StageName, session: ort.InferenceSession): StageSession {
  const spec = model.manifest.stages[name];
  const inputTypes: Record<string, FloatType> = {};
  for (const input of Object.keys(spec.inputs)) {
    const meta = session.inputMetadata.find((m) => m.name === input);
    if (meta === undefined) {
      throw new ModelError(
        "MODEL_MANIFEST_INVALID",
        `${model.files[name]} has no input "${input}" (graph inputs: ${session.inputNames.join(", ")})`,
        { field: `stages.${name}.inputs.${input}` },
      );
    }
    inputTypes[input] = meta.isTensor && meta.type === "float16" ? "float16" : "float32";
  }
  for (const output of Object.keys(spec.outputs)) {
    if (!session.outputNames.includes(output)) {
      throw new ModelError(
        "MODEL_MANIFEST_INVALID",
        `${model.files[name]} has no output "${output}" (graph outputs: ${session.outputNames.join(", ")})`,
        { field: `stages.${name}.outputs.${output}` },
      );
    }
  }
  return { session, inputTypes };
}
