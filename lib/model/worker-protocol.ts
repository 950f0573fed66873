/** Messages between the calling thread (lib/model/worker-client.ts) and the model worker (worker-thread.ts). */
import type { StageName } from "./manifest.js";
import type { ModelFolder } from "./model-folder.js";
import type { Value, Values } from "./run-stage.js";
import type { FloatType } from "./tensors.js";
import type { ExecutionProvider } from "./thread-sessions.js";

export interface WireTensor {
  readonly type: string;
  readonly data: ArrayBufferView;
  readonly dims: readonly number[];
}

export type Request =
  | {
      readonly op: "open";
      readonly model: ModelFolder;
      readonly provider: ExecutionProvider;
      readonly threads: number;
      readonly memoryArena: boolean;
    }
  /**
   * One stage on named values (as runStage), measured. `lent`: input buffers transferred here (no copy),
   * sent back with the result in the same order.
   */
  | {
      readonly op: "stage";
      readonly handle: number;
      readonly stage: StageName;
      readonly values: Values;
      readonly lent: readonly ArrayBuffer[];
    }
  /** One stage on graph-named tensors (a session's own run). */
  | {
      readonly op: "run";
      readonly handle: number;
      readonly stage: StageName;
      readonly feeds: Readonly<Record<string, WireTensor>>;
    }
  /**
   * Encoder → UNet → x0 → decoder on one tile (lib/model/tile-chain.ts), measured step by step; `shared`:
   * the values every tile gets (tokens, and qtables for a model that takes them).
   */
  | {
      readonly op: "tile";
      readonly handle: number;
      readonly lq: Value;
      readonly shared: Values;
      readonly lent: readonly ArrayBuffer[];
    }
  | { readonly op: "release"; readonly handle: number }
  /** After the jobs before it: release every session and end the worker. */
  | { readonly op: "stop" }
  /** Tests only: throw outside any job, as a bug would, so that the worker dies. */
  | { readonly op: "crash" };

export interface Opened {
  readonly handle: number;
  readonly provider: ExecutionProvider;
  readonly inputTypes: Readonly<Record<StageName, Readonly<Record<string, FloatType>>>>;
}

/** Wall and CPU milliseconds per step, measured in the worker (CPU: its own thread and onnxruntime's). */
export interface Measured {
  readonly timings: Readonly<Record<string, number>>;
  readonly cpuTimings: Readonly<Record<string, number>>;
}

export interface WireError {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
  readonly field?: string;
  readonly stack?: string;
}

export type Response =
  | {
      readonly id: number;
      readonly ok: true;
      readonly result: unknown;
      readonly measured?: Measured;
      /** The request's `lent` buffers, back. */
      readonly lent?: readonly ArrayBuffer[];
    }
  | { readonly id: number; readonly ok: false; readonly error: WireError };
