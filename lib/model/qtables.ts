/**
 * The `qtables` value a model told the compression takes (docs/CONTRACTS.md, "Model folder"): the source's
 * quantization steps as [1, 2, 64] float32, natural (row-major) order, row 0 the first component's table
 * (luma), row 1 the second's (chroma; a grey JPEG's one table stands for both).
 */
import { ANNEX_K_CHROMA, ANNEX_K_LUMA, ijgTable } from "../jpeg/ijg.js";
import type { Manifest } from "./manifest.js";
import type { Value } from "./run-stage.js";

/** Luma and chroma steps, 64 each in natural order, as the source was quantized. */
export type SourceTables = readonly [luma: readonly number[], chroma: readonly number[]];

/** Whether any stage of the model declares a `qtables` input. */
export function takesTables(manifest: Manifest): boolean {
  return Object.values(manifest.stages).some((stage) => Object.values(stage.inputs).includes("qtables"));
}

/**
 * The value for `tables`; without them (a source whose tables are not known), the IJG tables (8-bit, as
 * most encoders write) of `quality`, the best guess at how hard it was compressed.
 */
export function qtablesValue(tables: SourceTables | null, quality: number): Value {
  const [luma, chroma] = tables ?? [
    ijgTable(ANNEX_K_LUMA, Math.round(quality), 255),
    ijgTable(ANNEX_K_CHROMA, Math.round(quality), 255),
  ];
  const data = new Float32Array(128);
  data.set(luma, 0);
  data.set(chroma, 64);
  return { data, dims: [1, 2, 64] };
}
