/**
 * The Independent JPEG Group's quality scaling (libjpeg `jpeg_set_quality`, also used by libjpeg-turbo,
 * mozjpeg, ImageMagick, Pillow, sharp/libvips): the example tables of ITU-T T.81 Annex K, scaled by a
 * factor derived from quality 1..100.
 */

/** Annex K table K.1 (luminance), natural order. */
export const ANNEX_K_LUMA: readonly number[] = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22,
  29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103,
  121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];

/** Annex K table K.2 (chrominance), natural order. */
export const ANNEX_K_CHROMA: readonly number[] = [
  17,
  18,
  24,
  47,
  99,
  99,
  99,
  99,
  18,
  21,
  26,
  66,
  99,
  99,
  99,
  99,
  24,
  26,
  56,
  99,
  99,
  99,
  99,
  99,
  47,
  66,
  99,
  99,
  99,
  99,
  99,
  99,
  ...new Array<number>(32).fill(99),
];

/**
 * The largest entry libjpeg writes: 255 when `force_baseline` is set (8-bit tables; cjpeg -baseline,
 * mozjpeg, sharp, Pillow), 32767 otherwise (plain cjpeg, whose tables go 16-bit for quality ≤ 23).
 */
export type IjgClamp = 255 | 32767;

/** libjpeg `jpeg_quality_scaling`: quality 1..100 to a percentage (integer division, as in C). */
export function ijgScaleFactor(quality: number): number {
  const q = Math.min(100, Math.max(1, Math.trunc(quality)));
  return q < 50 ? Math.trunc(5000 / q) : 200 - 2 * q;
}

/** libjpeg `jpeg_add_quant_table`: one base table scaled for a quality, entries clamped to 1..clamp. */
export function ijgTable(base: readonly number[], quality: number, clamp: IjgClamp): number[] {
  const scale = ijgScaleFactor(quality);
  return base.map((entry) => Math.min(clamp, Math.max(1, Math.trunc((entry * scale + 50) / 100))));
}
