/**
 * The projection as a step of `restore()`: the source's coefficients decoded while the model runs (they
 * need only the file), then the restored pixels projected onto their cells once the tiles are blended. A
 * source it cannot apply to is restored without it, and says why in the description.
 */
import { UnjpegError } from "../errors.js";
import { DEFAULT_QUALITY } from "../image/encode.js";
import type { EncoderSetting } from "../image/encoder-setting.js";
import { decodeCoefficients, type JpegCoefficients, releaseCoefficients } from "../jpeg/coefficients.js";
import { ANNEX_K_CHROMA, ANNEX_K_LUMA, ijgTable } from "../jpeg/ijg.js";
import type { Recompression } from "../jpeg/recompression.js";
import type { Stepper } from "../model/step.js";
import { threadClock } from "../model/thread-cpu.js";
import { earlierCells } from "./earlier-cells.js";
import {
  LOSSLESS_OUTPUT,
  type OutputMargins,
  projectionSkipReason,
  projectOntoSource,
} from "./projection.js";
import type { ProjectionDescription } from "./types.js";

/** The decoder's refusal of a frame its scan cannot fill: the restore is refused, not merely unprojected. */
const REFUSED_CODES: ReadonlySet<string> = new Set(["JPEG_SCAN_TOO_SHORT"]);

export type PendingCoefficients = Promise<
  { readonly coefficients: JpegCoefficients } | { readonly skipped: string }
>;

/**
 * Starts decoding the source's coefficients on this thread's next turn, after the caller has handed the
 * model its first run: the decode then overlaps it. A decoder error becomes a skip with a Node warning
 * (`UNJPEG_PROJECTION_SKIPPED`), except a scan too short for its frame, which rejects.
 */
export function decodeWhileModelRuns(
  bytes: Uint8Array,
  maxPixels: number,
  step: Stepper,
  signal: AbortSignal | undefined,
): PendingCoefficients {
  const clock = threadClock(); // this thread's CPU only: the model's threads run meanwhile
  const pending: PendingCoefficients = new Promise((resolve, reject) => {
    setImmediate(() => {
      if (signal?.aborted) return resolve({ skipped: "aborted" });
      const start = performance.now();
      const cpuStart = clock();
      try {
        resolve({ coefficients: decodeCoefficients(bytes, { maxPixels, signal }) });
      } catch (error) {
        if (error instanceof UnjpegError && REFUSED_CODES.has(error.code)) return reject(error);
        const reason = `its coefficients cannot be decoded: ${describe(error)}`;
        if (!signal?.aborted)
          process.emitWarning(`restoring without the projection: ${reason}`, {
            code: "UNJPEG_PROJECTION_SKIPPED",
          });
        resolve({ skipped: reason });
      } finally {
        step.record("coefficients", performance.now() - start, clock() - cpuStart);
      }
    });
  });
  pending.catch(() => undefined); // awaited after the model; a restore that fails first never reads it
  return pending;
}

function describe(error: unknown): string {
  if (error instanceof UnjpegError) return `${error.message} [${error.code}]`;
  return error instanceof Error ? error.message : String(error);
}

/**
 * A JPEG derivative's rounding to 8 bits at three more points of its way (its encoder's YCbCr, its IDCT, a
 * decoder's RGB): about 3 standard deviations of their sum on a coefficient.
 */
const JPEG_ROUNDING_MARGIN = 1.5;

/**
 * The margins for the derivative restore() writes. A JPEG at a forced quality: its rounding, and half its
 * own step at each frequency (its encoder writes the IJG tables of its quality:
 * tests/integration/restore-projection.test.ts), whichever way the block is turned. A PNG keeps the 8-bit
 * pixels as they are. WebP and AVIF quantize in their own transforms, which no margin in JPEG's cells can
 * foresee: none.
 * `"auto"` (the default, lib/restore/encode-step.ts): none either. Its setting is chosen after the
 * projection, on the projected pixels, so no step is known here; and the choice itself bounds what the
 * encoding may change (a share of the restoration's change). Margins for a guessed step would pull the
 * restoration toward the JPEG for an encoder that may not be the one used.
 */
export function outputMargins(setting: EncoderSetting | "auto"): OutputMargins {
  if (setting === "auto" || setting.format !== "jpeg") return LOSSLESS_OUTPUT;
  const halfSteps = (base: readonly number[]) => {
    const table = ijgTable(base, setting.quality ?? DEFAULT_QUALITY.jpeg, 255);
    return Float32Array.from(table, (step, i) => Math.max(step, table[(i & 7) * 8 + (i >> 3)]!) / 2);
  };
  return { absolute: JPEG_ROUNDING_MARGIN, luma: halfSteps(ANNEX_K_LUMA), chroma: halfSteps(ANNEX_K_CHROMA) };
}

/**
 * Projects `rgb` (upright, as decoded) in place when the source allows it; says what was done. A re-saved
 * source (`recompressed`, on its last grid: the caller checked earlierCellsSkipReason) is projected onto
 * its earlier compression's cells (earlier-cells.ts).
 */
export async function projectRestored(
  rgb: Uint8Array,
  image: { readonly width: number; readonly height: number; readonly orientation: number },
  pending: PendingCoefficients,
  step: Stepper,
  output: OutputMargins,
  recompressed?: Recompression,
): Promise<ProjectionDescription> {
  const source = await pending;
  if ("skipped" in source) return { applied: false, reason: source.skipped };
  try {
    const reason = projectionSkipReason(source.coefficients, image.width, image.height, image.orientation);
    if (reason !== null) return { applied: false, reason: `not for this source: ${reason}` };
    const coefficients =
      recompressed === undefined
        ? source.coefficients
        : earlierCells(source.coefficients, recompressed.quality);
    const stats = await step("projection", () =>
      projectOntoSource(rgb, image.width, image.height, image.orientation, coefficients, output),
    );
    const clipped = stats.clipped / stats.coefficients;
    return recompressed === undefined
      ? { applied: true, clipped }
      : { applied: true, clipped, cells: "earlier" };
  } finally {
    releaseCoefficients(source.coefficients); // the next restore decodes into it (fresh memory is slow to touch)
  }
}
