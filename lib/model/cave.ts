/**
 * CaVE on the whole image: every tile of the generator cross-attends to the same tokens, computed once.
 *
 * Up to `wholeMaxPixels` (padded) CaVE runs on the whole image, exactly as the reference does. Larger
 * images run it in bounded memory on non-overlapping full-resolution tiles (downscaling would wash out the
 * very artifacts CaVE measures); their tokens are put back on the image's token grid. Either way, a grid
 * of more than `maxTokens` positions is average-pooled down to at most that many, so the UNet's
 * cross-attention costs the same per tile at 12 MP as at 1 MP. The predicted quality of tiled runs is the
 * mean of the tiles' predictions, weighted by their token counts.
 */
import { extractPlanar, padTo, type Scratch } from "../image/tiles.js";
import { ModelError } from "./errors.js";
import { runInTurn } from "./in-turn.js";
import { expectDims, type StepLike, stageStep, type Value, type Values } from "./run-stage.js";
import type { ModelSessions } from "./sessions.js";

/** Runs a named step (lib/model/step.ts); the default runs it untimed. */
export type Step = StepLike;

export interface CaveOptions {
  /** Default 4 MP (padded size); above it, CaVE runs tiled. */
  readonly wholeMaxPixels?: number;
  /** Side of CaVE tiles; default 1024 (rounded to the model's multiple). */
  readonly tile?: number;
  /** Default 1024 token positions. */
  readonly maxTokens?: number;
}

export interface CaveResult {
  readonly tokens: Value;
  /** CaVE's quality estimate 0..100, or null when the graph has no quality output. */
  readonly predictedQuality: number | null;
  readonly mode: "whole" | "tiled";
  /** Token grid before pooling, and after. */
  readonly grid: readonly [number, number];
  readonly pooledGrid: readonly [number, number];
}

export const CAVE_DEFAULTS = Object.freeze({ wholeMaxPixels: 4_000_000, tile: 1024, maxTokens: 1024 });

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** The multiple CaVE inputs are padded to: both the model's and CaVE's own. */
export function caveMultiple(sessions: ModelSessions): number {
  const { padMultiple, cave } = sessions.model.manifest;
  return (padMultiple * cave.downscale) / gcd(padMultiple, cave.downscale);
}

/** The image CaVE reads: interleaved 8-bit RGB and the quality its tables say (null: no tables). */
export interface TokenImage {
  readonly rgb: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly tableQuality: number | null;
}

/** How a token run goes: CaVE's own options, the caller's stepper, buffers and overlapped work. */
export interface TokenRun {
  readonly cave?: CaveOptions;
  readonly step?: Step;
  /**
   * Input buffers, used in turn (and handed on to the caller's next use). With two, the next tile is cut
   * out while CaVE runs on this one (in the model worker); with one, each waits for the last run.
   */
  readonly scratches?: readonly Scratch[];
  /** Work for the caller while CaVE's last run is in flight (called only where runs overlap). */
  readonly whileLastRuns?: () => Promise<void>;
}

export async function computeTokens(
  sessions: ModelSessions,
  image: TokenImage,
  how: TokenRun = {},
): Promise<CaveResult> {
  const { rgb, width, height, tableQuality } = image;
  const options = how.cave ?? {};
  const step: Step = how.step ?? ((_name, work) => Promise.resolve(work()));
  const scratches = how.scratches ?? [{}, {}];
  const whileLastRuns = how.whileLastRuns;
  const { manifest } = sessions.model;
  const multiple = caveMultiple(sessions);
  const down = manifest.cave.downscale;
  const dim = manifest.cave.tokenDim;
  const pw = padTo(width, multiple);
  const ph = padTo(height, multiple);
  const gw = pw / down;
  const gh = ph / down;
  const wholeMax = options.wholeMaxPixels ?? CAVE_DEFAULTS.wholeMaxPixels;
  const maxTokens = options.maxTokens ?? CAVE_DEFAULTS.maxTokens;
  const side = padTo(options.tile ?? CAVE_DEFAULTS.tile, multiple);
  // The table estimate, for models that take it (50 when there are no tables to read).
  const quality: Value = { data: Float32Array.of(tableQuality ?? 50), dims: [1, 1] };

  const grid = new Float32Array(gh * gw * dim);
  let qualitySum = 0;
  let qualityWeight = 0;
  const tiled = pw * ph > wholeMax;
  const tileSide = tiled ? side : Math.max(pw, ph);
  const tiles: { x0: number; y0: number; tw: number; th: number }[] = [];
  for (let y0 = 0; y0 < ph; y0 += tileSide) {
    for (let x0 = 0; x0 < pw; x0 += tileSide) {
      tiles.push({ x0, y0, tw: Math.min(tileSide, pw - x0), th: Math.min(tileSide, ph - y0) });
    }
  }
  const cut = (k: number) => {
    const { x0, y0, tw, th } = tiles[k]!;
    // Tiles cover the padded grid; the image's own pixels end earlier and the rest is edge-padded.
    const rect = {
      x: { start: Math.min(x0, width - 1), end: Math.min(x0 + tw, width) },
      y: { start: Math.min(y0, height - 1), end: Math.min(y0 + th, height) },
    };
    return step("tensors", () =>
      extractPlanar(rgb, width, rect, tw, th, 1 / 255, 0, scratches[k % scratches.length]),
    );
  };
  const run = (k: number, data: Float32Array): Promise<Values> => {
    const { tw, th } = tiles[k]!;
    return stageStep(
      sessions,
      "cave",
      { rgb01: { data, dims: [1, 3, th, tw] }, quality },
      step,
      scratches[k % scratches.length],
    );
  };
  const use = (k: number, out: Values): void => {
    const { x0, y0, tw, th } = tiles[k]!;
    const tgw = tw / down;
    const tgh = th / down;
    const tokens = expectDims("cave", "tokens", out.tokens, [1, tgh * tgw, dim]);
    for (let ty = 0; ty < tgh; ty++) {
      const src = ty * tgw * dim;
      const dst = ((y0 / down + ty) * gw + x0 / down) * dim;
      grid.set(tokens.data.subarray(src, src + tgw * dim), dst);
    }
    if (out.quality !== undefined) {
      qualitySum += out.quality.data[0]! * tgh * tgw;
      qualityWeight += tgh * tgw;
    }
  };
  // The next tile is cut out while CaVE runs only where it runs elsewhere (the model worker).
  const overlap = scratches.length > 1 && sessions.remote !== undefined && "record" in step;
  await runInTurn(tiles.length, cut, run, use, { overlap, whileLastRuns });
  if (qualityWeight > 0 && !Number.isFinite(qualitySum)) {
    throw new ModelError("MODEL_RUN_FAILED", "stage cave: predicted quality is not a number");
  }
  const pooled = poolTokens(grid, gh, gw, dim, maxTokens);
  return {
    tokens: { data: pooled.data, dims: [1, pooled.gh * pooled.gw, dim] },
    predictedQuality: qualityWeight > 0 ? qualitySum / qualityWeight : null,
    mode: tiled ? "tiled" : "whole",
    grid: [gh, gw],
    pooledGrid: [pooled.gh, pooled.gw],
  };
}

/**
 * Average-pools a row-major token grid [gh, gw, dim] by the smallest k×k that leaves at most `maxTokens`
 * positions (windows at the bottom and right edges average what they cover). k = 1 returns the grid.
 */
export function poolTokens(
  grid: Float32Array,
  gh: number,
  gw: number,
  dim: number,
  maxTokens: number,
): { data: Float32Array; gh: number; gw: number } {
  let k = 1;
  while (Math.ceil(gh / k) * Math.ceil(gw / k) > maxTokens) k++;
  if (k === 1) return { data: grid, gh, gw };
  const oh = Math.ceil(gh / k);
  const ow = Math.ceil(gw / k);
  const out = new Float32Array(oh * ow * dim);
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      const dst = (oy * ow + ox) * dim;
      let count = 0;
      for (let y = oy * k; y < Math.min(gh, oy * k + k); y++) {
        for (let x = ox * k; x < Math.min(gw, ox * k + k); x++) {
          addInto(out, dst, grid, (y * gw + x) * dim, dim);
          count++;
        }
      }
      divideIn(out, dst, dim, count);
    }
  }
  return { data: out, gh: oh, gw: ow };
}

// The loops over a token's values are functions of their own: called thousands of times per restore,
// V8 optimises them once for the process (a loop that runs once per restore is compiled again and again).
function addInto(out: Float32Array, dst: number, grid: Float32Array, src: number, n: number): void {
  for (let d = 0; d < n; d++) out[dst + d] += grid[src + d]!;
}

function divideIn(out: Float32Array, dst: number, n: number, divisor: number): void {
  for (let d = 0; d < n; d++) out[dst + d] /= divisor;
}
