/**
 * Runs one stage graph with values named as in the manifest (rgb01, latent, ...): the manifest maps
 * them to the graph's own input and output names, and float16 graphs get and give half tensors.
 */
import type ort from "onnxruntime-node";
import { ModelError } from "./errors.js";
import type { StageName, ValueName } from "./manifest.js";
import type { ModelSessions } from "./sessions.js";
import { makeTensor, readFloat32 } from "./tensors.js";

export interface Value {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

export type Values = Partial<Record<ValueName, Value>>;

export async function runStage(sessions: ModelSessions, name: StageName, values: Values): Promise<Values> {
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
