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
import { giveBack } from "../image/buffer-pool.js";
import { cropTopLeft, padTopLeft } from "../image/offset.js";
import type { Scratch } from "../image/tiles.js";
import { type Stepper, stepper } from "../restore/stepper.js";
import { type CaveOptions, type CaveResult, computeTokens } from "./cave.js";
import { runInTurn } from "./in-turn.js";
import type { ColorFix } from "./manifest.js";
import { qtablesValue, type SourceTables, takesTables } from "./qtables.js";
import { recordMeasured, type Value, type Values } from "./run-stage.js";
import type { ModelSessions } from "./sessions.js";
import { processCpuMs, threadClock } from "./thread-cpu.js";
import { runTileChain } from "./tile-chain.js";
import { createTileRun, planTiles, type TileRun } from "./tile-run.js";

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

/**
 * The pipeline's steps in order: the earlier grid's padding (a re-saved source) → the tile plan → CaVE's
 * tokens (the blending target made and the first tile cut while its last run is in flight) → the tiles
 * (cut, model, blend, overlapped with the model worker) → the output (colour fix).
 */
export async function runPipeline(
  sessions: ModelSessions,
  input: PipelineInput,
  options: PipelineOptions = {},
): Promise<PipelineResult> {
  const { rgb, width, height } = input;
  if (rgb.length !== width * height * 3)
    throw new RangeError(`rgb has ${rgb.length} bytes for ${width}×${height}`);
  const [dy, dx] = input.offset ?? [0, 0];
  if (dy !== 0 || dx !== 0) return onEarlierGrid(sessions, input, options, [dy, dx]);
  const { manifest } = sessions.model;
  const timings: Record<string, number> = {};
  const cpuTimings: Record<string, number> = {};
  // With the model in the worker, this thread's steps overlap model runs: their CPU time is this thread's.
  const remote = sessions.remote !== undefined;
  const step = stepper(timings, cpuTimings, options.signal, remote ? threadClock() : processCpuMs);
  const run = createTileRun({
    rgb,
    width,
    height,
    plan: planTiles(width, height, options.tiling ?? manifest.tiling),
    padMultiple: manifest.padMultiple,
    colorFix: options.colorFix ?? manifest.colorFix,
    remote,
    step,
  });
  let cave: CaveResult;
  try {
    cave = options.tokens ?? (await tokensStep(sessions, input, options, run, step));
    await run.prepare();
    await tilesStep(sessions, run, sharedValues(sessions, input, cave), step, options);
  } finally {
    // The tensors and bands go back to the pool; the output is the caller's (restore() gives it back).
    run.release();
  }
  return {
    rgb: await run.output(),
    predictedQuality: cave.predictedQuality,
    timings,
    cpuTimings,
    tiles: run.plan.tiles,
    cave: { mode: cave.mode, grid: cave.grid, pooledGrid: cave.pooledGrid },
  };
}

/**
 * A re-saved source's earlier block grid: the whole image padded at the top and left before anything
 * else (tiles, CaVE and the colour fix all see the padded one), run, and cropped back.
 */
async function onEarlierGrid(
  sessions: ModelSessions,
  input: PipelineInput,
  options: PipelineOptions,
  [dy, dx]: readonly [number, number],
): Promise<PipelineResult> {
  if (!(Number.isInteger(dy) && Number.isInteger(dx) && dy >= 0 && dx >= 0 && dy < 8 && dx < 8))
    throw new RangeError(`offset [${dy}, ${dx}] is not in 0..7`);
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

/** CaVE on the whole image; the tile run is prepared while its last run is in flight. */
function tokensStep(
  sessions: ModelSessions,
  input: PipelineInput,
  options: PipelineOptions,
  run: TileRun,
  step: Stepper,
): Promise<CaveResult> {
  const { rgb, width, height, tableQuality } = input;
  return computeTokens(
    sessions,
    { rgb, width, height, tableQuality },
    {
      ...(options.cave === undefined ? {} : { cave: options.cave }),
      step,
      scratches: run.scratches.slice(0, 2),
      whileLastRuns: () => run.prepare(),
    },
  );
}

/** What every tile's model run shares: CaVE's tokens and, for models that take them, the tables. */
function sharedValues(sessions: ModelSessions, input: PipelineInput, cave: CaveResult): Values {
  const shared: Values = { tokens: cave.tokens };
  if (takesTables(sessions.model.manifest)) {
    const quality = input.tableQuality ?? cave.predictedQuality ?? 50;
    shared.qtables = qtablesValue(input.tables ?? null, quality);
  }
  return shared;
}

/**
 * Every tile: cut, model, blend. In the model worker, tile k+1 is cut out, and tile k−1 blended, while the
 * model runs on tile k; with the sessions in this thread, one thing at a time.
 */
function tilesStep(
  sessions: ModelSessions,
  run: TileRun,
  shared: Values,
  step: Stepper,
  options: PipelineOptions,
): Promise<void> {
  const remote = sessions.remote !== undefined;
  const { tiles } = run.plan;
  return runInTurn(
    tiles,
    run.cut,
    (k, lq) =>
      remote
        ? runTile(sessions, lq, shared, step, run.scratchOf(k))
        : runTileChain(sessions, lq, shared, step),
    async (k, restored) => {
      await run.blend(k, restored);
      options.onProgress?.({ tile: k + 1, tiles });
    },
    { overlap: remote, first: run.first() },
  );
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
