/**
 * Runs one stage graph with values named as in the manifest (rgb01, latent, ...): the manifest maps
 * them to the graph's own input and output names, and float16 graphs get and give half tensors.
 */
import type ort from "onnxruntime-node";
import type { Stepper } from "../restore/stepper.js";
import { ModelError } from "./errors.js";
import type { StageName, ValueName } from "./manifest.js";
import type { ModelSessions } from "./sessions.js";
import { makeTensor, readFloat32 } from "./tensors.js";
import type { Measured } from "./worker-protocol.js";

export interface Value {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

export type Values = Partial<Record<ValueName, Value>>;

export async function runStage(
  sessions: Pick<ModelSessions, "model" | "stages">,
  name: StageName,
  values: Values,
): Promise<Values> {
  const spec = sessions.model.manifest.stages[name];
  const stage = sessions.stages[name];
  const feeds: Record<string, ort.Tensor> = {};
  for (const [input, valueName] of Object.entries(spec.inputs)) {
    const value = values[valueName];
    if (value === undefined)
      throw new ModelError("MODEL_RUN_FAILED", `stage ${name}: no "${valueName}" to feed "${input}"`);
    feeds[input] = makeTensor(value.data, value.dims, stage.inputTypes[input] ?? "float32");
  }
  let results: ort.InferenceSession.OnnxValueMapType;
  try {
    results = await stage.session.run(feeds);
  } catch (cause) {
    throw new ModelError("MODEL_RUN_FAILED", `stage ${name} failed: ${(cause as Error).message}`, { cause });
  }
  const out: Values = {};
  for (const [output, valueName] of Object.entries(spec.outputs)) {
    const tensor = results[output] as ort.Tensor | undefined;
    if (tensor === undefined)
      throw new ModelError("MODEL_RUN_FAILED", `stage ${name} gave no output "${output}"`);
    out[valueName] = { data: readFloat32(tensor), dims: tensor.dims };
  }
  return out;
}

/** Throws unless `value` has exactly `dims`. */
export function expectDims(
  stage: StageName,
  what: string,
  value: Value | undefined,
  dims: readonly number[],
): Value {
  if (value === undefined || value.dims.length !== dims.length || value.dims.some((d, i) => d !== dims[i])) {
    throw new ModelError(
      "MODEL_RUN_FAILED",
      `stage ${stage}: ${what} has shape [${value?.dims.join(", ") ?? "none"}], expected [${dims.join(", ")}]`,
    );
  }
  return value;
}

/** A step runner (lib/model/step.ts): plain, or a Stepper that can also record steps measured elsewhere. */
export type StepLike = Stepper | (<T>(name: string, run: () => T | Promise<T>) => Promise<T>);

/**
 * Runs a stage as the named step `name`. Where the sessions live in the model worker and `step` records,
 * the run is measured there (wall, and the CPU of the model's own threads), not here, where other work
 * may overlap it; `lend`'s buffer then goes to the worker and back, and `lend.data` is set to a view of
 * the whole buffer again (on failure it stays detached, empty).
 */
export async function stageStep(
  sessions: ModelSessions,
  name: StageName,
  values: Values,
  step: StepLike,
  lend?: { data?: Float32Array },
): Promise<Values> {
  const remote = sessions.remote;
  if (remote === undefined || !("record" in step)) return step(name, () => runStage(sessions, name, values));
  step.check(name);
  const buffer = lend?.data?.buffer;
  const lent = buffer instanceof ArrayBuffer ? [buffer] : [];
  const reply = await remote.stage(name, values, lent);
  if (lend !== undefined && reply.lent[0] !== undefined)
    lend.data = new Float32Array(reply.lent[0], 0, reply.lent[0].byteLength >> 2);
  recordMeasured(step, reply.measured);
  return reply.values;
}

/** Adds steps measured in the model worker. */
export function recordMeasured(step: Stepper, measured: Measured): void {
  for (const [name, ms] of Object.entries(measured.timings))
    step.record(name, ms, measured.cpuTimings[name] ?? 0);
}
