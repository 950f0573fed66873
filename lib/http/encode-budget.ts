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
 * Before this process has encoded a format: measured by `bench/restore.ts --format F --sizes 1,12` with
 * the shipped model on the reference machine (2 cores), wall time of search and encode, a line through
 * 1 and 12 MP (rounded up). Same machine as restore-estimate.ts's SEEDED_RATE, so their ratio holds.
 */
export const SEEDED_ENCODE_RATES: Readonly<Record<OutputFormat, RestoreRate>> = Object.freeze({
  jpeg: { fixedMs: 30, msPerMegapixel: 30 },
  png: { fixedMs: 30, msPerMegapixel: 150 },
  webp: { fixedMs: 40, msPerMegapixel: 60 },
  avif: { fixedMs: 40, msPerMegapixel: 160 },
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
