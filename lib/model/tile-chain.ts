/**
 * One tile through the generator: encoder → UNet at the fixed timestep → x0 → decoder, on a tile already
 * cut out and padded (planar rgb_pm1). Runs where the sessions are: in the model worker
 * (lib/model/worker-thread.ts) or in the calling thread.
 */
import type { ModelFolder } from "./model-folder.js";
import { expectDims, runStage, type Value, type Values } from "./run-stage.js";
import type { ModelSessions } from "./sessions.js";

/** Runs a named, timed step (lib/model/step.ts). */
export type StepRun = <T>(name: string, run: () => T | Promise<T>) => Promise<T>;

/**
 * Returns the decoder's planar rgb_pm1 for the tile `lq` ([1, 3, h, w], h and w padded). `shared`: the
 * values every tile of the image gets (CaVE's `tokens`; `qtables` for a model told the compression); a
 * stage is fed only the ones it declares.
 */
export async function runTileChain(
  sessions: Pick<ModelSessions, "model" | "stages">,
  lq: Value,
  shared: Values,
  step: StepRun,
): Promise<Value> {
  const { manifest } = sessions.model;
  const [, , ph, pw] = lq.dims as [number, number, number, number];
  const latentDims = latentDimsOf(sessions.model, pw, ph);
  const encoded = await step("encoder", () => runStage(sessions, "vaeEncoder", { ...shared, rgb_pm1: lq }));
  const latent = expectDims("vaeEncoder", "latent", encoded.latent, latentDims);
  const predicted = await step("unet", () => runStage(sessions, "unet", { ...shared, latent }));
  const eps = expectDims("unet", "eps", predicted.eps, latentDims);
  // Into eps's own array (the UNet's output, ours and not needed after this).
  const x0Unscaled = await step("x0", () =>
    x0FromEps(latent.data, eps.data, manifest.diffusion.alphaBar, manifest.latent.scalingFactor, eps.data),
  );
  const decoded = await step("decoder", () =>
    runStage(sessions, "vaeDecoder", {
      ...shared,
      x0_unscaled: { data: x0Unscaled, dims: latentDims },
      rgb_pm1: lq,
    }),
  );
  // Still rgb_pm1: the clamp and the map to [0, 1] happen in the blend, in the same pass.
  return expectDims("vaeDecoder", "image", decoded.rgb_pm1, [1, 3, ph, pw]);
}

function latentDimsOf(model: ModelFolder, pw: number, ph: number): number[] {
  const { latent } = model.manifest;
  return [1, latent.channels, ph / latent.downscale, pw / latent.downscale];
}

/**
 * x0 = (z − √(1 − ᾱ)·eps) / √ᾱ, then divided by the VAE scaling factor for the decoder. `out` may be
 * `latent` or `eps` itself (each element is read before it is written).
 */
export function x0FromEps(
  latent: Float32Array,
  eps: Float32Array,
  alphaBar: number,
  scalingFactor: number,
  out: Float32Array = new Float32Array(latent.length),
): Float32Array {
  const a = Math.sqrt(1 - alphaBar);
  const b = 1 / (Math.sqrt(alphaBar) * scalingFactor);
  for (let k = 0; k < latent.length; k++) out[k] = (latent[k]! - a * eps[k]!) * b;
  return out;
}
