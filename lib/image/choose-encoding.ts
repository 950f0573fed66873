/**
 * `--quality auto`: the encoder setting with the fewest bytes whose output stays close enough to the
 * restored pixels that the restoration survives, without the ground truth. The rule, in one metric (mean
 * squared error over the RGB values, the metric of the PSNR whose gain is to be kept):
 *
 *   error(encoded, restored) ≤ (1 − keepGain) × change(restored, decoded source) / errorTransfer
 *
 * Why it keeps `keepGain` of the gain: for a restoration that is the best estimate of the true image
 * given the JPEG (its remaining error uncorrelated with anything computed from the JPEG), the JPEG's error
 * against the truth is the restoration's plus its change, and an encoding's error adds to the
 * restoration's; the share of the gain in squared error lost to the encoding is then error / change.
 * `errorTransfer` (a model's `encodeErrorTransfer`, default 1) is the share of an encoding's error that
 * shows up against the truth for a real model (measured by `unjpeg eval`): below 1 when an encoding also
 * removes some of the restoration's own error. Squared error counts every channel, so an encoding that
 * keeps luma but loses chroma (4:2:0) pays for it; a luma-only metric would let 4:2:0 throw away chroma the
 * restoration recovered. The search (lib/image/quality-search.ts) probes a sample of tiles
 * (lib/image/sample-tiles.ts), not the whole image: a few encodes of half a megapixel at most.
 */
import sharp from "sharp";
import type { OutputFormat } from "../config.js";
import {
  ENCODER_EFFORT,
  type EncoderSetting,
  flatQualities,
  flatStep,
  withEncoder,
} from "./encoder-setting.js";
import { type Probe, searchLadders } from "./quality-search.js";
import { planSample, sampleError, takeSample } from "./sample-tiles.js";

/**
 * The least error the rule ever asks for (mean squared error; 48 dB against the restored pixels, far below
 * what shows): a restoration that barely changed the image is not stored near losslessly. On images whose
 * restoration changed little (LIVE1 and training images at QF 40, bench/encode-curve.ts) a floor of 1
 * instead of 0.5 saved 3–6 % of the bytes for 0.1–0.3 points of the gain kept: without it one image took
 * the finest flat table at 11× its source's bytes.
 */
export const MIN_ALLOWED_ERROR = 1;

/**
 * Pixels the search encodes per probe: the whole image up to about this many, tiles beyond (32 tiles; a
 * 48th of larger images, at most 128 tiles). bench/encode-sample.ts measures how well a sample predicts
 * the whole image's error and choice.
 */
export function samplePixels(pixels: number): number {
  return Math.min(524_288, Math.max(131_072, Math.round(pixels / 48)));
}

export interface ChooseOptions {
  readonly format: Exclude<OutputFormat, "png">;
  /** Share of the restoration's PSNR gain the encoding must keep, 0..1. */
  readonly keepGain: number;
  /** The model's `encodeErrorTransfer` (0..1], default 1. */
  readonly errorTransfer?: number;
  /** The output is one grey channel. */
  readonly grey: boolean;
  /** JPEG: mozjpeg's trellis quantisation on every rung (UNJPEG_TRELLIS; encoder-setting.ts `trellis`). */
  readonly trellis?: boolean;
  /** Sample size in pixels (default samplePixels(); bench/encode-sample.ts tries others). */
  readonly samplePixels?: number;
  /** Probes per ladder at most (default lib/image/quality-search.ts's). */
  readonly probesPerLadder?: number;
}

export interface EncodingChoice {
  readonly setting: EncoderSetting;
  /** The allowance was met on the sample (false: the most faithful setting the format offers). */
  readonly met: boolean;
  readonly probes: number;
  /** On the sample: the restoration's change, the error allowed, and the chosen setting's error. */
  readonly change: number;
  readonly allowed: number;
  readonly error: number | undefined;
  readonly samplePixels: number;
}

/** The ladders the search walks for a format, each ordered by fidelity (lowest quality first). */
export function laddersFor(
  format: ChooseOptions["format"],
  grey: boolean,
  trellis = false,
): EncoderSetting[][] {
  const range = (from: number, to: number, step: number) =>
    Array.from({ length: Math.floor((to - from) / step) + 1 }, (_, i) => from + i * step);
  switch (format) {
    case "jpeg": {
      const flat = (chroma?: "4:2:0" | "4:4:4") =>
        flatQualities(50).map(
          (quality): EncoderSetting => ({
            format,
            quality,
            ...(chroma === undefined ? {} : { chroma }),
            flat: true,
            progressive: true,
            ...(trellis ? { trellis: true } : {}),
          }),
        );
      // A grey JPEG has one component: subsampling means nothing there.
      return grey ? [flat()] : [flat("4:2:0"), flat("4:4:4")];
    }
    case "webp":
      return [range(30, 100, 2).map((quality) => ({ format, quality, effort: ENCODER_EFFORT.webp }))];
    case "avif":
      return [
        range(20, 100, 2).map(
          (quality): EncoderSetting => ({ format, quality, chroma: "4:2:0", effort: ENCODER_EFFORT.avif }),
        ),
      ];
  }
}

/**
 * Where a setting sits on its ladder: for the flat JPEG table, the logarithm of its step (an encoder's
 * error grows about as a power of its step, so the logarithm of the error is close to a line in it); for
 * the others, the quality.
 */
export function ladderPosition(setting: EncoderSetting): number {
  if (setting.flat === true && setting.quality !== undefined) return -Math.log(flatStep(setting.quality));
  return setting.quality ?? 0;
}

/**
 * Where the search of a long ladder starts (default: its middle). WebP's and AVIF's ladders have 36 and
 * 41 rungs, and the rule's answers sit high on them (WebP q86–100, AVIF q76–98 on LIVE1 at QF 10 and 40,
 * and on the bench's photo): from the middle, three probes stopped a few rungs above the answer.
 */
const FIRST_PROBE: Readonly<Record<ChooseOptions["format"], number | undefined>> = Object.freeze({
  jpeg: undefined,
  webp: 90,
  avif: 80,
});

/** The rule's allowance for an encoding's error, given the restoration's change (same metric). */
export function allowedError(change: number, keepGain: number, errorTransfer = 1): number {
  return Math.max(MIN_ALLOWED_ERROR, ((1 - keepGain) * change) / errorTransfer);
}

/**
 * Chooses the setting for `restored` (the model's output) against `decoded` (the source's pixels), both
 * interleaved 8-bit RGB of `width` × `height`.
 */
export async function chooseEncoding(
  restored: Uint8Array,
  decoded: Uint8Array,
  width: number,
  height: number,
  options: ChooseOptions,
): Promise<EncodingChoice> {
  const plan = planSample(width, height, options.samplePixels ?? samplePixels(width * height));
  const size = { width: plan.mosaicWidth, height: plan.mosaicHeight };
  const channels: 1 | 3 = options.grey ? 1 : 3;
  const [target, source] = await Promise.all([
    asChannels(takeSample(plan, restored), size, channels),
    asChannels(takeSample(plan, decoded), size, channels),
  ]);
  const change = sampleError(plan, target, source, channels);
  const allowed = allowedError(change, options.keepGain, options.errorTransfer);
  const probe = async (setting: EncoderSetting): Promise<Probe> => {
    const input = sharp(target, { raw: { ...size, channels } });
    // Baseline for a progressive setting: the same pixels and relative sizes, in less time.
    const probed = { ...setting, progressive: false };
    const encoded = await withEncoder(options.grey ? input.toColourspace("b-w") : input, probed).toBuffer();
    const back = await sharp(encoded).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const pixels = back.info.channels === channels ? back.data : await asChannels(back.data, size, channels);
    return { bytes: encoded.length, error: sampleError(plan, target, pixels, channels) };
  };
  const ladders = laddersFor(options.format, options.grey, options.trellis === true);
  const first = ladders[0]!.findIndex((s) => s.quality === FIRST_PROBE[options.format]);
  const outcome = await searchLadders(ladders, allowed, probe, {
    maxProbesPerLadder: options.probesPerLadder,
    position: ladderPosition,
    ...(first < 0 ? {} : { start: first }),
  });
  return {
    setting: outcome.setting,
    met: outcome.met,
    probes: outcome.probes,
    change,
    allowed,
    error: outcome.probe?.error,
    samplePixels: size.width * size.height,
  };
}

/** RGB as it is, or as one grey channel the way sharp writes a grey output (so errors compare like with like). */
async function asChannels(
  pixels: Uint8Array,
  size: { width: number; height: number },
  channels: 1 | 3,
): Promise<Uint8Array> {
  const have = pixels.length / (size.width * size.height);
  if (have === channels) return pixels;
  const image = sharp(pixels, { raw: { ...size, channels: have as 1 | 3 } });
  const out = await (channels === 1 ? image.toColourspace("b-w") : image.toColourspace("srgb"))
    .raw()
    .toBuffer();
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}
