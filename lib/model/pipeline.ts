/**
 * The one-step restoration pipeline, as named steps with explicit inputs and outputs and the caller's
 * AbortSignal checked between them:
 *
 *   cave (whole image) → per tile: tensors → encoder → unet → x0 → decoder → blend → colour fix → rgb
 *
 * Tiles overlap and are blended with weights that sum to one (lib/image/tiles.ts), so memory holds the
 * image's own buffers (8-bit input, one float accumulator) plus two tiles' tensors, whatever the size.
 * With the sessions in the model worker (the default), the next tile is cut out and the last one blended
 * here while the model runs there.
 */
import { createBandedBlender } from "../image/blend-bands.js";
import { giveBack } from "../image/buffer-pool.js";
import { adainFix, waveletFix } from "../image/color-fix.js";
import { cropTopLeft, padTopLeft } from "../image/offset.js";
import {
  axisWeights,
  blendInto,
  extractPlanar,
  padTo,
  planAxis,
  planarToInterleaved,
  type Scratch,
} from "../image/tiles.js";
import { type CaveOptions, type CaveResult, computeTokens } from "./cave.js";
import { runInTurn } from "./in-turn.js";
import type { ColorFix } from "./manifest.js";
import { qtablesValue, type SourceTables, takesTables } from "./qtables.js";
import { recordMeasured, type Value, type Values } from "./run-stage.js";
import type { ModelSessions } from "./sessions.js";
import { type Stepper, stepper } from "./step.js";
import { processCpuMs, threadClock } from "./thread-cpu.js";
import { runTileChain } from "./tile-chain.js";

export { x0FromEps } from "./tile-chain.js";

export interface PipelineInput {
  /** Interleaved 8-bit RGB, `width * height * 3`. */
  readonly rgb: Uint8Array;
  readonly width: number;
  readonly height: number;
  /** Quality from the quantization tables (fed to models with a quality input). */
  readonly tableQuality: number | null;
  /**
   * The source's quantization tables (fed to models with a `qtables` input); absent or null: the IJG
   * tables of `tableQuality`, else of CaVE's estimate.
   */
  readonly tables?: SourceTables | null;
  /**
   * Rows and columns of padding at the top and left (0..7 each; default none): where a re-saved image's
   * earlier block grid starts (lib/jpeg/recompression.ts), so that the model's grid is that one. The image
   * is padded (edge), run, and cropped back (docs/CONTRACTS.md, "Padding").
   */
  readonly offset?: readonly [dy: number, dx: number];
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
  /**
   * CPU milliseconds per step, which contention for the cores does not inflate: model runs, the model's
   * threads; other steps, this thread (with the sessions in this thread: the whole process's).
   */
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
  const [dy, dx] = input.offset ?? [0, 0];
  if (dy !== 0 || dx !== 0) {
    if (!(Number.isInteger(dy) && Number.isInteger(dx) && dy >= 0 && dx >= 0 && dy < 8 && dx < 8))
      throw new RangeError(`offset [${dy}, ${dx}] is not in 0..7`);
    // The whole image shifted before anything else: tiles, CaVE and the colour fix all see the padded one.
    const padded = padTopLeft(input, dy, dx);
    let result: PipelineResult;
    try {
      result = await runPipeline(sessions, { ...input, ...padded, offset: undefined }, options);
    } finally {
      giveBack(padded.rgb.buffer);
    }
    const cropped = cropTopLeft({ rgb: result.rgb, width: padded.width, height: padded.height }, dy, dx);
    giveBack(result.rgb.buffer);
    return { ...result, rgb: cropped.rgb };
  }
  const timings: Record<string, number> = {};
  const cpuTimings: Record<string, number> = {};
  // With the model in the worker, this thread's steps overlap model runs: their CPU time is this thread's.
  const remote = sessions.remote !== undefined;
  const step = stepper(timings, cpuTimings, options.signal, remote ? threadClock() : processCpuMs);

  // Input buffers (tiles are views of them), from the pool since fresh memory is slow to touch. With the
  // model in the worker, three in turn: the next tile is cut out while the model runs on the last (and
  // the first tile while CaVE's last run is in flight); here, one.
  const scratches: Scratch[] = remote ? [{}, {}, {}] : [{}];
  const tileScratch = (k: number) => scratches[(k + 2) % scratches.length]!;
  const tiling = options.tiling ?? manifest.tiling;
  // An image of no more pixels than a tile runs whole, whatever its shape: a tile bounds the pixels one run
  // holds, not its sides, and a whole run needs no overlap (1155×866 as two tiles: 11 % more model work).
  const whole = width * height <= tiling.tile * tiling.tile;
  const xs = whole ? [{ start: 0, end: width }] : planAxis(width, tiling.tile, tiling.overlap);
  const ys = whole ? [{ start: 0, end: height }] : planAxis(height, tiling.tile, tiling.overlap);
  const weightsX = xs.map((span, i) => axisWeights(span, xs[i - 1], xs[i + 1]));
  const weightsY = ys.map((span, i) => axisWeights(span, ys[i - 1], ys[i + 1]));
  const colorFix = options.colorFix ?? manifest.colorFix;
  const tiles = xs.length * ys.length;
  let banded: ReturnType<typeof createBandedBlender> | undefined;
  let accumulator: Float32Array | undefined;
  const cut = (k: number) => {
    const rect = { x: xs[k % xs.length]!, y: ys[Math.floor(k / xs.length)]! };
    const pw = padTo(rect.x.end - rect.x.start, manifest.padMultiple);
    const ph = padTo(rect.y.end - rect.y.start, manifest.padMultiple);
    return step(
      "tensors",
      (): Value => ({
        data: extractPlanar(rgb, width, rect, pw, ph, 2 / 255, -1, tileScratch(k)),
        dims: [1, 3, ph, pw],
      }),
    );
  };
  let first: Value | undefined;
  let prepared = false;
  const prepare = async () => {
    prepared = true;
    // Without a colour fix, tiles blend straight into the 8-bit output and only the overlaps are summed in
    // float (lib/image/blend-bands.ts). A colour fix is global: it needs the whole image in float first.
    banded = colorFix === "none" ? createBandedBlender(width, height, xs, ys, weightsX, weightsY) : undefined;
    accumulator = banded === undefined ? new Float32Array(width * height * 3) : undefined;
    if (remote) first = await cut(0);
  };
  let cave: CaveResult;
  try {
    cave =
      options.tokens ??
      (await computeTokens(
        sessions,
        rgb,
        width,
        height,
        input.tableQuality,
        options.cave,
        step,
        scratches.slice(0, 2),
        prepare,
      ));
    if (!prepared) await prepare();
    const shared: Values = { tokens: cave.tokens };
    if (takesTables(manifest)) {
      const quality = input.tableQuality ?? cave.predictedQuality ?? 50;
      shared.qtables = qtablesValue(input.tables ?? null, quality);
    }
    const blend = (k: number, restored: Value) => {
      const i = k % xs.length;
      const j = Math.floor(k / xs.length);
      const [, , ph, pw] = restored.dims as [number, number, number, number];
      const plane = pw * ph;
      return step("blend", () =>
        banded !== undefined
          ? banded.add(i, j, restored.data, pw, plane)
          : blendInto(
              accumulator!,
              width,
              height,
              restored.data,
              pw,
              plane,
              { x: xs[i]!, y: ys[j]! },
              weightsX[i]!,
              weightsY[j]!,
              true,
            ),
      );
    };
    // In the model worker, tile k+1 is cut out, and tile k−1 blended, while the model runs on tile k; with
    // the sessions in this thread, one thing at a time.
    await runInTurn(
      tiles,
      cut,
      (k, lq) =>
        remote
          ? runTile(sessions, lq, shared, step, tileScratch(k))
          : runTileChain(sessions, lq, shared, step),
      async (k, restored) => {
        await blend(k, restored);
        options.onProgress?.({ tile: k + 1, tiles });
      },
      { overlap: remote, first },
    );
  } finally {
    // The tensors and bands go back to the pool; the output is the caller's (restore() gives it back).
    for (const scratch of scratches) if (scratch.data !== undefined) giveBack(scratch.data.buffer);
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

/**
 * Encoder → UNet → x0 → decoder on one tile in the model worker, measured there: `lq`, a view of
 * `scratch`, is lent to it, and `scratch.data` set again when it comes back. Started at once; a failure
 * is seen where the result is awaited.
 */
function runTile(
  sessions: ModelSessions,
  lq: Value,
  shared: Values,
  step: Stepper,
  scratch: Scratch,
): Promise<Value> {
  step.check("encoder");
  return sessions.remote!.tile(lq, shared).then(({ image, measured, lent }) => {
    scratch.data = new Float32Array(lent, 0, lent.byteLength >> 2);
    recordMeasured(step, measured);
    return image;
  });
}
