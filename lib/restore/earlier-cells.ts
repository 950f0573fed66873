/**
 * The projection of a re-saved source (issue 17): its last, fine tables' cells would put the earlier
 * compression's blocks back, so where the earlier grid is the file's own (offset [0, 0]) the restoration is
 * projected onto the earlier quantization's cells instead: each coefficient re-quantized with the IJG
 * tables of the detected earlier quality (the value the earlier compression wrote is the nearest multiple
 * of its step: the later one moved it by less than half of it). On a shifted grid the file's blocks are not
 * the earlier compression's, and there is no projection.
 */
import type { JpegCoefficients } from "../jpeg/coefficients.js";
import { ANNEX_K_CHROMA, ANNEX_K_LUMA, ijgTable } from "../jpeg/ijg.js";
import type { Recompression } from "../jpeg/recompression.js";
import { estimateStep, histogramOf } from "../jpeg/step-estimate.js";

/** A step no coefficient of an 8-bit JPEG reaches half of: a cell that constrains nothing. */
const UNCONSTRAINED = 65535;

/** Why a re-saved source is not projected, or null when it is, onto its earlier cells. */
export function earlierCellsSkipReason(recompressed: Recompression): string | null {
  const [dy, dx] = recompressed.offset;
  return dy === 0 && dx === 0
    ? null
    : `re-saved on a shifted grid (offset ${dy},${dx}): the file's blocks are not its earlier compression's`;
}

/**
 * `source` with each component's cells those of the earlier compression (IJG luma tables of `quality`
 * for the first component, chroma for the others). A chroma component whose DC values do not sit on the
 * earlier chroma step (an earlier compression with other chroma sampling: 4:2:0 where the file is 4:4:4)
 * gets cells that constrain nothing.
 */
export function earlierCells(source: JpegCoefficients, quality: number): JpegCoefficients {
  const tables = [ijgTable(ANNEX_K_LUMA, quality, 255), ijgTable(ANNEX_K_CHROMA, quality, 255)];
  return {
    ...source,
    components: source.components.map((component, index) => {
      const earlier = tables[index === 0 ? 0 : 1]!;
      const { quant, coefficients } = component;
      if (index > 0 && !dcOnStep(component, earlier[0]!)) {
        return {
          ...component,
          quant: new Uint16Array(64).fill(UNCONSTRAINED),
          coefficients: new Int16Array(coefficients.length),
        };
      }
      const requantized = new Int16Array(coefficients.length);
      for (let i = 0; i < coefficients.length; i++) {
        const k = i & 63;
        requantized[i] = Math.round((coefficients[i]! * quant[k]!) / earlier[k]!);
      }
      return { ...component, quant: Uint16Array.from(earlier), coefficients: requantized };
    }),
  };
}

/** Whether a component's dequantized DC values sit on multiples of `step` (lib/jpeg/step-estimate.ts). */
function dcOnStep(component: JpegCoefficients["components"][number], step: number): boolean {
  const { coefficients, quant } = component;
  const blocks = coefficients.length / 64;
  const values = new Float64Array(blocks);
  for (let b = 0; b < blocks; b++) values[b] = coefficients[b * 64]! * quant[0]!;
  const search = { minStep: step, maxStep: step, dc: true, minCount: 16, minPeaks: 2, pass: 0.8 };
  return step > 2 * quant[0]! && estimateStep(histogramOf(values, blocks), search) !== null;
}
