/**
 * The one-step restoration pipeline, as named steps with explicit inputs and outputs and the caller's
 * AbortSignal checked between them:
 *
 *   cave (whole image) → per tile: tensors → encoder → unet → x0 → decoder → blend → colour fix → rgb
 *
 * Tiles overlap and are blended with weights that sum to one (lib/image/tiles.ts), so memory holds the
 * image's own buffers (8-bit input, one float accumulator) plus one tile's tensors, whatever the size.
 */
import { createBandedBlender } from "../image/blend-bands.js";
import { giveBack } from "../image/buffer-pool.js";
import { adainFix, waveletFix } from "../image/color-fix.js";
import {
  axisWeights,
  blendInto,
  extractPlanar,
  padTo,
  planAxis,
  planarToInterleaved,
  type Span,
} from "../image/tiles.js";
import { type CaveOptions, type CaveResult, computeTokens, type Step } from "./cave.js";
import type { ColorFix } from "./manifest.js";
import { expectDims, runStage, type Value } from "./run-stage.js";
import type { ModelSessions } from "./sessions.js";
import { stepper } from "./step.js";

export interface PipelineInput {
  /** Interleaved 8-bit RGB, `width * height * 3`. */
  readonly rgb: Uint8Array;
  readonly width: number;
  readonly height: number;
  /** Quality from the quantization tables (fed to models with a quality input). */
  readonly tableQuality: number | null;
}

export interface PipelineOptions {
  readonly signal?: AbortSignal;
  /** Overrides the manifest's tiling (tests compare tiled with untiled runs). */
  readonly tiling?: { readonly tile: number; readonly overlap: number };
  /** Overrides the manifest's colour fix. */
  readonly colorFix?: ColorFix;
  readonly cave?: CaveOptions;
  /** CaVE's result for the whole image, computed before (a region of a large image reuses it). */
  readonly tokens?: CaveResult;
  /** Called after each tile. */
  readonly onProgress?: (progress: { readonly tile: number; readonly tiles: number }) => void;
}

export interface PipelineResult {
  /** Interleaved 8-bit RGB, same size as the input. */
  readonly rgb: Uint8Array;
  readonly predictedQuality: number | null;
  /** Milliseconds per step, summed over tiles. */
  readonly timings: Readonly<Record<string, number>>;
  /** CPU milliseconds per step (every thread of the process), which contention for the cores does not inflate. */
  readonly cpuTimings: Readonly<Record<string, number>>;
  readonly tiles: number;
  readonly cave: Pick<CaveResult, "mode" | "grid" | "pooledGrid">;
}

export async function runPipeline(
  sessions: ModelSessions,
  input: PipelineInput,
  options: PipelineOptions = {},
): Promise<PipelineResult> {
  const { manifest } = sessions.model;
  const { rgb, width, height } = input;
  if (rgb.length !== width * height * 3)
    throw new RangeError(`rgb has ${rgb.length} bytes for ${width}×${height}`);
  const timings: Record<string, number> = {};
  const cpuTimings: Record<string, number> = {};
  const step = stepper(timings, cpuTimings, options.signal);

  // One input buffer for CaVE and then every tile (each a view of it): fresh memory is slow to touch.
  const scratch: { data?: Float32Array } = {};
  const cave =
    options.tokens ??
    (await computeTokens(sessions, rgb, width, height, input.tableQuality, options.cave, step, scratch));

  const tiling = options.tiling ?? manifest.tiling;
  const xs = planAxis(width, tiling.tile, tiling.overlap);
  const ys = planAxis(height, tiling.tile, tiling.overlap);
  const weightsX = xs.map((span, i) => axisWeights(span, xs[i - 1], xs[i + 1]));
  const weightsY = ys.map((span, i) => axisWeights(span, ys[i - 1], ys[i + 1]));
  const colorFix = options.colorFix ?? manifest.colorFix;
  // Without a colour fix, tiles blend straight into the 8-bit output and only the overlaps are summed in
  // float (lib/image/blend-bands.ts). A colour fix is global: it needs the whole image in float first.
  const banded =
    colorFix === "none" ? createBandedBlender(width, height, xs, ys, weightsX, weightsY) : undefined;
  const accumulator = banded === undefined ? new Float32Array(width * height * 3) : undefined;
  const scratchTiles = scratch;
  const tiles = xs.length * ys.length;
  let done = 0;
  try {
    for (let j = 0; j < ys.length; j++) {
      for (let i = 0; i < xs.length; i++) {
        const rect = { x: xs[i]!, y: ys[j]! };
        const restored = await restoreTile(sessions, rgb, width, rect, cave.tokens, scratchTiles, step);
        const plane = restored.width * restored.height;
        await step("blend", () =>
          banded !== undefined
            ? banded.add(i, j, restored.data, restored.width, plane)
            : blendInto(
                accumulator!,
                width,
                height,
                restored.data,
                restored.width,
                plane,
                rect,
                weightsX[i]!,
                weightsY[j]!,
                true,
              ),
        );
        done++;
        options.onProgress?.({ tile: done, tiles });
      }
    }
  } finally {
    // The tensors and bands go back to the pool; the output is the caller's (restore() gives it back).
    if (scratch.data !== undefined) giveBack(scratch.data.buffer);
    banded?.release();
  }

  let out: Uint8Array;
  if (banded !== undefined) out = banded.output;
  else {
    const planar = accumulator!;
    await step("colorFix", () =>
      colorFix === "adain" ? adainFix(planar, rgb, width, height) : waveletFix(planar, rgb, width, height),
    );
    out = await step("blend", () => planarToInterleaved(planar, width, height));
  }
  return {
    rgb: out,
    predictedQuality: cave.predictedQuality,
    timings,
    cpuTimings,
    tiles,
    cave: { mode: cave.mode, grid: cave.grid, pooledGrid: cave.pooledGrid },
  };
}

/** Encoder → UNet → x0 → decoder on one tile, padded to the model's multiple; returns planar rgb_pm1. */
async function restoreTile(
  sessions: ModelSessions,
  rgb: Uint8Array,
  width: number,
  rect: { x: Span; y: Span },
  tokens: Value,
  scratch: { data?: Float32Array },
  step: Step,
): Promise<{ data: Float32Array; width: number; height: number }> {
  const { manifest } = sessions.model;
  const pw = padTo(rect.x.end - rect.x.start, manifest.padMultiple);
  const ph = padTo(rect.y.end - rect.y.start, manifest.padMultiple);
  const lw = pw / manifest.latent.downscale;
  const lh = ph / manifest.latent.downscale;
  const latentDims = [1, manifest.latent.channels, lh, lw];

  // The scratch buffer is free again: the previous tile's runs are over.
  const lq = await step("tensors", () => ({
    data: extractPlanar(rgb, width, rect, pw, ph, 2 / 255, -1, scratch),
    dims: [1, 3, ph, pw],
  }));
  const encoded = await step("encoder", () => runStage(sessions, "vaeEncoder", { rgb_pm1: lq }));
  const latent = expectDims("vaeEncoder", "latent", encoded.latent, latentDims);
  const predicted = await step("unet", () => runStage(sessions, "unet", { latent, tokens }));
  const eps = expectDims("unet", "eps", predicted.eps, latentDims);
  // Into eps's own array (the UNet's output, ours and not needed after this).
  const x0Unscaled = await step("x0", () =>
    x0FromEps(latent.data, eps.data, manifest.diffusion.alphaBar, manifest.latent.scalingFactor, eps.data),
  );
  const decoded = await step("decoder", () =>
    runStage(sessions, "vaeDecoder", { x0_unscaled: { data: x0Unscaled, dims: latentDims }, rgb_pm1: lq }),
  );
  const image = expectDims("vaeDecoder", "image", decoded.rgb_pm1, [1, 3, ph, pw]);
  // Still rgb_pm1: the clamp and the map to [0, 1] happen in the blend, in the same pass.
  return { data: image.data, width: pw, height: ph };
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
