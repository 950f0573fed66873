/**
 * One pipeline run's tiles: where they lie (planned once), the input buffers they are cut into, and the
 * target they are blended into, with the steps that work on them (cut, blend, the output). The pipeline
 * (pipeline.ts) runs these in order; the state they share lives here, not in the pipeline's closures.
 */
import { type BandedBlender, createBandedBlender } from "../image/blend-bands.js";
import { giveBack } from "../image/buffer-pool.js";
import { adainFix, waveletFix } from "../image/color-fix.js";
import {
  axisWeights,
  blendInto,
  extractPlanar,
  padTo,
  planAxis,
  planarToInterleaved,
  type Scratch,
  type Span,
} from "../image/tiles.js";
import type { Stepper } from "../restore/stepper.js";
import type { ColorFix } from "./manifest.js";
import type { Value } from "./run-stage.js";

/** Where the tiles lie: spans along each axis and their blending weights. */
export interface TilePlan {
  readonly xs: readonly Span[];
  readonly ys: readonly Span[];
  readonly weightsX: readonly Float32Array[];
  readonly weightsY: readonly Float32Array[];
  readonly tiles: number;
}

/**
 * An image of no more pixels than a tile runs whole, whatever its shape: a tile bounds the pixels one run
 * holds, not its sides, and a whole run needs no overlap (1155×866 as two tiles: 11 % more model work).
 */
export function planTiles(
  width: number,
  height: number,
  tiling: { readonly tile: number; readonly overlap: number },
): TilePlan {
  const whole = width * height <= tiling.tile * tiling.tile;
  const xs = whole ? [{ start: 0, end: width }] : planAxis(width, tiling.tile, tiling.overlap);
  const ys = whole ? [{ start: 0, end: height }] : planAxis(height, tiling.tile, tiling.overlap);
  const weightsX = xs.map((span, i) => axisWeights(span, xs[i - 1], xs[i + 1]));
  const weightsY = ys.map((span, i) => axisWeights(span, ys[i - 1], ys[i + 1]));
  return { xs, ys, weightsX, weightsY, tiles: xs.length * ys.length };
}

export interface TileRunOptions {
  readonly rgb: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly plan: TilePlan;
  readonly padMultiple: number;
  readonly colorFix: ColorFix;
  /** The model runs in the worker: three input buffers in turn (the next tile is cut while one runs). */
  readonly remote: boolean;
  readonly step: Stepper;
}

export interface TileRun {
  readonly plan: TilePlan;
  /** Input buffers: the first two also serve CaVE's runs. */
  readonly scratches: readonly Scratch[];
  /** The buffer tile `k` is cut into. */
  scratchOf(k: number): Scratch;
  /** Cuts tile `k` out of the image as the model's input tensor. */
  cut(k: number): Promise<Value>;
  /** Makes the blending target, and with the model in the worker cuts the first tile: once. */
  prepare(): Promise<void>;
  /** The first tile, when prepare cut it. */
  first(): Value | undefined;
  /** Blends a restored tile into the target. */
  blend(k: number, restored: Value): Promise<void>;
  /** The 8-bit output: as blended, or after the colour fix (a global one needs the whole image in float). */
  output(): Promise<Uint8Array>;
  /** Gives the input buffers and bands back to the pool (the output is the caller's). */
  release(): void;
}

export function createTileRun(options: TileRunOptions): TileRun {
  const { rgb, width, height, plan, padMultiple, colorFix, remote, step } = options;
  const { xs, ys, weightsX, weightsY } = plan;
  // From the pool, since fresh memory is slow to touch. With the model in the worker, three in turn: the
  // next tile is cut out while the model runs on the last (and the first while CaVE's last run is in
  // flight); here, one.
  const scratches: Scratch[] = remote ? [{}, {}, {}] : [{}];
  const scratchOf = (k: number) => scratches[(k + 2) % scratches.length]!;
  let banded: BandedBlender | undefined;
  let accumulator: Float32Array | undefined;
  let prepared = false;
  let firstTile: Value | undefined;

  const cut = (k: number): Promise<Value> => {
    const rect = { x: xs[k % xs.length]!, y: ys[Math.floor(k / xs.length)]! };
    const pw = padTo(rect.x.end - rect.x.start, padMultiple);
    const ph = padTo(rect.y.end - rect.y.start, padMultiple);
    return step(
      "tensors",
      (): Value => ({
        data: extractPlanar(rgb, width, rect, pw, ph, 2 / 255, -1, scratchOf(k)),
        dims: [1, 3, ph, pw],
      }),
    );
  };

  return {
    plan,
    scratches,
    scratchOf,
    cut,
    async prepare() {
      if (prepared) return;
      prepared = true;
      // Without a colour fix, tiles blend straight into the 8-bit output and only the overlaps are summed
      // in float (lib/image/blend-bands.ts). A colour fix is global: it needs the whole image in float.
      banded =
        colorFix === "none" ? createBandedBlender(width, height, xs, ys, weightsX, weightsY) : undefined;
      accumulator = banded === undefined ? new Float32Array(width * height * 3) : undefined;
      if (remote) firstTile = await cut(0);
    },
    first: () => firstTile,
    blend(k, restored) {
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
    },
    async output() {
      if (banded !== undefined) return banded.output;
      const planar = accumulator!;
      await step("colorFix", () =>
        colorFix === "adain" ? adainFix(planar, rgb, width, height) : waveletFix(planar, rgb, width, height),
      );
      return step("blend", () => planarToInterleaved(planar, width, height));
    },
    release() {
      for (const scratch of scratches) if (scratch.data !== undefined) giveBack(scratch.data.buffer);
      banded?.release();
    },
  };
}
