/**
 * onnxruntime sessions in the thread that runs them: created from a checked model folder with the options
 * below, and checked against the manifest. lib/model/sessions.ts creates them in the model worker
 * (lib/model/worker-thread.ts), or here in the calling thread when asked to.
 */
import ort from "onnxruntime-node";
import { ModelError } from "./errors.js";
import { STAGE_NAMES, type StageName } from "./manifest.js";
import type { ModelFolder } from "./model-folder.js";
import type { FloatType } from "./tensors.js";

export type { ExecutionProvider } from "../config.js";

import type { ExecutionProvider } from "../config.js";

/** What runStage needs of a session: onnxruntime's InferenceSession, or the model worker's stand-in. */
export interface StageRunner {
  run(feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.OnnxValue>>;
  release(): Promise<void>;
}

export interface StageSession {
  readonly session: StageRunner;
  /** The float type each graph input expects, read from the graph (float16 exports take half inputs). */
  readonly inputTypes: Readonly<Record<string, FloatType>>;
}

export interface LocalSessions {
  readonly provider: ExecutionProvider;
  readonly stages: Readonly<Record<StageName, StageSession>>;
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

/** Sessions for every stage; CUDA, when requested, falls back to CPU (`provider` says which ran). */
export async function createLocalSessions(
  model: ModelFolder,
  requested: ExecutionProvider,
  threads: number,
  memoryArena: boolean,
): Promise<LocalSessions> {
  if (requested === "cuda") {
    try {
      return await createSessionsOn(model, "cuda", threads, memoryArena);
    } catch (error) {
      // CUDA requested but its provider library (or a GPU) is not there: run on CPU; `provider` says so.
      warnCudaUnavailable(error);
    }
  }
  return createSessionsOn(model, "cpu", threads, memoryArena);
}

let cudaWarned = false;

/**
 * A Node warning (on stderr; `--no-warnings` silences it) that CUDA was asked for in vain: once per thread
 * that creates sessions (the model worker has its own).
 */
function warnCudaUnavailable(error: unknown): void {
  if (cudaWarned) return;
  cudaWarned = true;
  const reason = (error instanceof Error ? error.message : String(error)).split("\n")[0]!.slice(0, 300);
  process.emitWarning(`CUDA was requested but cannot be used, so the model runs on CPU: ${reason}`, {
    code: "UNJPEG_CUDA_UNAVAILABLE",
  });
}

async function createSessionsOn(
  model: ModelFolder,
  provider: ExecutionProvider,
  threads: number,
  memoryArena: boolean,
): Promise<LocalSessions> {
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
  return { provider, stages };
}

/** Checks that the graph has the inputs and outputs the manifest names, and reads their float types. */
function describe(model: ModelFolder, name: StageName, session: ort.InferenceSession): StageSession {
  const spec = model.manifest.stages[name];
  const inputTypes: Record<string, FloatType> = {};
  for (const input of Object.keys(spec.inputs)) {
    const meta = session.inputMetadata.find((m) => m.name === input);
    if (meta === undefined) {
      void session.release().catch(() => undefined);
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
      void session.release().catch(() => undefined);
      throw new ModelError(
        "MODEL_MANIFEST_INVALID",
        `${model.files[name]} has no output "${output}" (graph outputs: ${session.outputNames.join(", ")})`,
        { field: `stages.${name}.outputs.${output}` },
      );
    }
  }
  return { session, inputTypes };
}
