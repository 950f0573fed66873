/**
 * An encoder setting: everything that decides how restored pixels are encoded, in one value, so the choice
 * (lib/image/choose-encoding.ts) and the encode (lib/image/encode.ts) cannot disagree, and the derivative
 * can record what was chosen (`unjpeg-encode`, docs/CONTRACTS.md) as a compact string:
 * `<format> q<quality>[ <chroma>][ flat][ prog][ trellis][ e<effort>]`, e.g. `jpeg q87 4:2:0 flat prog`, `webp q82 e0`,
 * `avif q58 4:2:0 e0`, `png`.
 */
import type { AvifOptions, JpegOptions, Sharp, WebpOptions } from "sharp";
import type { OutputFormat } from "../config.js";

/** `UNJPEG_KEEP_GAIN`'s default: the share of the restoration's PSNR gain an encoding keeps (choose-encoding.ts). */
export const DEFAULT_KEEP_GAIN = 0.9;

export type ChromaSubsampling = "4:2:0" | "4:4:4";

export interface EncoderSetting {
  readonly format: OutputFormat;
  /** The encoder's quality 1..100 (absent for png). */
  readonly quality?: number;
  /** JPEG and AVIF; WebP is always 4:2:0. */
  readonly chroma?: ChromaSubsampling;
  /**
   * JPEG: mozjpeg's flat quantisation table (every coefficient the same step) instead of the standard
   * (Annex K) one. For the error in RGB that the quality rule counts, a flat table is what rate-distortion
   * theory asks for at these rates (equal error per coefficient), and it gives the same error in a third
   * fewer bytes than the standard table on restored photos (LIVE1).
   */
  readonly flat?: boolean;
  /**
   * JPEG: progressive (the same pixels as baseline, 1–4 % fewer bytes on restored photos for ~60 % more
   * encoding time; browsers show a coarse image early).
   */
  readonly progressive?: boolean;
  /**
   * JPEG: mozjpeg's trellis quantisation (UNJPEG_TRELLIS): on LIVE1 at source QF 10 the same share of the
   * gain in ~14 % fewer bytes (q68 4:2:0: 2.88× the source's bytes keeping 90.1 %, against 3.36× keeping
   * 91.3 % without), for ~3× the encoding time (1 MP: 88 ms against 30), beyond the 15 % time budget, so
   * off unless asked for: bytes over time, for archives and uploads nobody waits on.
   */
  readonly trellis?: boolean;
  /** WebP 0..6, AVIF 0..9: encoder effort (ENCODER_EFFORT). */
  readonly effort?: number;
}

/**
 * Encoder efforts chosen to keep encoding (quality search included) within 15 % of a restore's time on
 * the reference machine (2 cores, the shipped model; `bench/restore.ts --format webp --sizes 1,12`, idle):
 * WebP at 0 takes 16.6 % of a 1 MP restore's wall time and 9.7 % at 12 MP (11.7 and 6.3 % of the CPU
 * time), at 2 it took 19.3 and 12.2 %; the rule's answers for WebP sit at q88–100, where 0 and 2 give the
 * same bytes (q100) or 2–9 % more (q90–96). AVIF at 0 is the fastest AV1 speed and still slower than WebP,
 * so `format=auto` only picks AVIF where it fits (lib/http/encode-budget.ts).
 */
export const ENCODER_EFFORT = Object.freeze({ webp: 0, avif: 0 });

/**
 * What a forced quality (`--quality N`, the HTTP `quality=N`) or no choice at all means per format: the
 * encoders' standard tables at the quality given (default 95 for JPEG, 4:4:4; 90 for WebP; 70 for AVIF).
 */
export const FIXED_QUALITY: Readonly<Record<Exclude<OutputFormat, "png">, number>> = Object.freeze({
  jpeg: 95,
  webp: 90,
  avif: 70,
});

/** The setting a forced quality (or none, `quality` undefined) gives. */
export function fixedSetting(format: OutputFormat, quality?: number): EncoderSetting {
  switch (format) {
    case "png":
      return { format };
    case "jpeg":
      return { format, quality: quality ?? FIXED_QUALITY.jpeg, chroma: "4:4:4" };
    case "webp":
      return { format, quality: quality ?? FIXED_QUALITY.webp, effort: ENCODER_EFFORT.webp };
    case "avif":
      return { format, quality: quality ?? FIXED_QUALITY.avif, chroma: "4:2:0", effort: ENCODER_EFFORT.avif };
  }
}

/** `jpeg q87 4:2:0 flat prog`: the compact form recorded as `unjpeg-encode`. */
export function describeSetting(setting: EncoderSetting): string {
  const parts: string[] = [setting.format];
  if (setting.quality !== undefined) parts.push(`q${setting.quality}`);
  if (setting.chroma !== undefined) parts.push(setting.chroma);
  if (setting.flat === true) parts.push("flat");
  if (setting.progressive === true) parts.push("prog");
  if (setting.trellis === true) parts.push("trellis");
  if (setting.effort !== undefined) parts.push(`e${setting.effort}`);
  return parts.join(" ");
}

/** Reads {@link describeSetting}'s form back; undefined when it is not one. */
export function parseSetting(text: string): EncoderSetting | undefined {
  const match =
    /^(jpeg|png|webp|avif)(?: q(\d{1,3}))?(?: (4:2:0|4:4:4))?( flat)?( prog)?( trellis)?(?: e(\d))?$/.exec(
      text,
    );
  if (match === null) return undefined;
  const [, format, quality, chroma, flat, progressive, trellis, effort] = match;
  return {
    format: format as OutputFormat,
    ...(quality === undefined ? {} : { quality: Number(quality) }),
    ...(chroma === undefined ? {} : { chroma: chroma as ChromaSubsampling }),
    ...(flat === undefined ? {} : { flat: true }),
    ...(progressive === undefined ? {} : { progressive: true }),
    ...(trellis === undefined ? {} : { trellis: true }),
    ...(effort === undefined ? {} : { effort: Number(effort) }),
  };
}

/** JPEG options for a setting; sharp's optimised Huffman tables stay on (~20 % smaller for ~85 ms at 12 MP). */
export function jpegOptions(setting: EncoderSetting): JpegOptions {
  return {
    quality: setting.quality ?? FIXED_QUALITY.jpeg,
    chromaSubsampling: setting.chroma ?? "4:4:4",
    optimiseCoding: true,
    ...(setting.flat === true ? { quantisationTable: 1 } : {}),
    ...(setting.progressive === true ? { progressive: true } : {}),
    ...(setting.trellis === true ? { trellisQuantisation: true } : {}),
  };
}

/** The setting's encoder on a sharp pipeline. */
export function withEncoder(pipeline: Sharp, setting: EncoderSetting): Sharp {
  switch (setting.format) {
    case "jpeg":
      return pipeline.jpeg(jpegOptions(setting));
    case "png":
      return pipeline.png({ compressionLevel: 6 });
    case "webp":
      return pipeline.webp({
        quality: setting.quality ?? FIXED_QUALITY.webp,
        effort: setting.effort ?? ENCODER_EFFORT.webp,
      } satisfies WebpOptions);
    case "avif":
      return pipeline.avif({
        quality: setting.quality ?? FIXED_QUALITY.avif,
        effort: setting.effort ?? ENCODER_EFFORT.avif,
        chromaSubsampling: setting.chroma ?? "4:2:0",
      } satisfies AvifOptions);
  }
}

/**
 * libjpeg's step for a table entry of 16 (the flat table) at `quality` (jpeg_quality_scaling, then
 * (entry × scale + 50) / 100, at least 1): quality 87 → 4, 90 → 3, 94 → 2, 97 → 1.
 */
export function flatStep(quality: number): number {
  const scale = quality < 50 ? Math.floor(5000 / quality) : 200 - quality * 2;
  return Math.max(1, Math.floor((16 * scale + 50) / 100));
}

/**
 * The qualities from `min` to 100 that give distinct flat-table steps, lowest quality (largest step)
 * first, each the lowest quality with its step (qualities between give the same table).
 */
export function flatQualities(min: number): number[] {
  const out: number[] = [];
  for (let q = min; q <= 100; q++) if (out.length === 0 || flatStep(q) !== flatStep(out.at(-1)!)) out.push(q);
  return out;
}
