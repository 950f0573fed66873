/**
 * Whether a format's encoding fits a restore's time: encoding a derivative (the quality search included)
 * may take at most ENCODE_SHARE of what the restore takes. JPEG and WebP are set up to fit on the CPU
 * (lib/image/encoder-setting.ts ENCODER_EFFORT); AVIF is not always: its fastest effort encodes slower
 * than WebP, and a GPU restores faster than any CPU encodes. `format=auto` at the CDN origin passes over a
 * format whose encoding would not fit for that request (X-Unjpeg-Format-Fallback); an explicit format is
 * honoured whatever it costs. Encode times are modelled like restore times (lib/http/restore-estimate.ts:
 * fixed cost plus a cost per megapixel, learnt per process from the restores it completes).
 */
import type { OutputFormat } from "../config.js";
import { estimateRestoreMs, observeRestore, type RestoreRate } from "./restore-estimate.js";

/** Encoding, search included, may take at most this share of the restore's time (issue 20's target). */
export const ENCODE_SHARE = 0.15;

/**
 * Before this process has encoded a format: measured by `bench/restore.ts --format F --sizes 0.3,1,12
 * --image <a RealSR photo>` with the shipped model on the 2-core reference machine (shared with other work:
 * CPU time, which is what a single-threaded encode's wall time is on an idle machine), search and encode,
 * a line through 1 and 12 MP rounded up, and a fixed cost no lower than 0.3 MP's: JPEG 55 and 206 ms at 1
 * and 12 MP, WebP 149 and 1,085, AVIF 219 and 1,047 (its search alone 80–110 ms at any size). At the
 * seeded restore speed (restore-estimate.ts) WebP then fits up to a quarter of a megapixel and AVIF not at
 * all, until this process measures faster encodes (or slower restores).
 */
export const SEEDED_ENCODE_RATES: Readonly<Record<OutputFormat, RestoreRate>> = Object.freeze({
  jpeg: { fixedMs: 40, msPerMegapixel: 20 },
  png: { fixedMs: 30, msPerMegapixel: 150 },
  webp: { fixedMs: 70, msPerMegapixel: 90 },
  avif: { fixedMs: 150, msPerMegapixel: 80 },
});

export type EncodeRates = Readonly<Record<OutputFormat, RestoreRate>>;

/** Whether encoding `pixels` in `format` fits ENCODE_SHARE of restoring them, at this process's rates. */
export function encodeFits(
  format: OutputFormat,
  pixels: number,
  encodeRates: EncodeRates,
  restoreRate: RestoreRate,
): boolean {
  return (
    estimateRestoreMs(pixels, encodeRates[format]) <= ENCODE_SHARE * estimateRestoreMs(pixels, restoreRate)
  );
}

/** The rates after an encode of `pixels` in `format` took `ms` (search included). */
export function observeEncode(
  rates: EncodeRates,
  format: OutputFormat,
  pixels: number,
  ms: number,
): EncodeRates {
  const next = observeRestore(rates[format], pixels, ms);
  return next === rates[format] ? rates : Object.freeze({ ...rates, [format]: next });
}
