/**
 * What users are served: the restoration encoded as a derivative is (the output encoding in use, chosen
 * as restore() chooses it: lib/image/choose-encoding.ts), measured against the ground truth next to the
 * lossless restoration. `unjpeg eval` reports its bytes against the source JPEG's and the share of the
 * restoration's PSNR gain it keeps, and the model's error transfer (what `encodeErrorTransfer` in a
 * model's manifest should say).
 */
import type { OutputFormat } from "../config.js";
import { decodeImage } from "../image/decode.js";
import { encodeRestored } from "../image/encode.js";
import { describeSetting } from "../image/encoder-setting.js";
import { plannedSetting, settingToWrite } from "../restore/encode-step.js";
import { stepper } from "../restore/stepper.js";
import { mse } from "./metrics.js";

export interface DerivativeOptions {
  readonly format: OutputFormat;
  /** `auto` (what derivatives get) or a forced quality. */
  readonly quality: number | "auto";
  readonly keepGain: number;
  /** JPEG: trellis quantisation (UNJPEG_TRELLIS). */
  readonly trellis?: boolean;
  /** The model's `encodeErrorTransfer`. */
  readonly errorTransfer: number;
  /** `<id>@<version>`, as restore() marks derivatives. */
  readonly modelTag: string;
}

export interface DerivativeResult {
  /** The encoder setting written (`jpeg q87 4:2:0 flat prog`). */
  readonly encoding: string;
  readonly bytes: number;
  /** PSNR over RGB against the ground truth. */
  readonly psnrRgb: number;
  /**
   * (derivative's PSNR − JPEG's) / (restoration's PSNR − JPEG's), RGB, against the ground truth; null when
   * the restoration gained nothing.
   */
  readonly gainKept: number | null;
  /** Squared-error terms (against the truth: JPEG, restoration, derivative; derivative against restoration). */
  readonly squaredErrors: {
    readonly jpeg: number;
    readonly restored: number;
    readonly derivative: number;
    readonly encoding: number;
  };
}

/**
 * Encodes `restored` (the restoration's RGB) as restore() would for `source` (the JPEG, whose decoded
 * pixels are `decoded`), and measures it against `truth`. All interleaved RGB of `width` × `height`.
 */
export async function measureDerivative(
  source: Uint8Array,
  images: { truth: Uint8Array; decoded: Uint8Array; restored: Uint8Array },
  size: { width: number; height: number; grey: boolean },
  options: DerivativeOptions,
): Promise<DerivativeResult> {
  const { truth, decoded, restored } = images;
  const { width, height, grey } = size;
  // The very decision restore() makes (lib/restore/encode-step.ts), untimed.
  const setting = await settingToWrite(
    plannedSetting(options.format, options.quality),
    options.format,
    { restored, decoded },
    { width, height, grey },
    { keepGain: options.keepGain, errorTransfer: options.errorTransfer, trellis: options.trellis === true },
    stepper({}, {}, undefined),
  );
  const bytes = await encodeRestored(source, restored, width, height, {
    format: options.format,
    setting,
    grey,
    modelTag: options.modelTag,
  });
  const back = await decodeImage(bytes, {
    maxPixels: Number.MAX_SAFE_INTEGER,
    maxBytes: Number.MAX_SAFE_INTEGER,
  });
  const squaredErrors = {
    jpeg: mse(truth, decoded),
    restored: mse(truth, restored),
    derivative: mse(truth, back.rgb),
    encoding: mse(restored, back.rgb),
  };
  const psnrOf = (e: number) => (e === 0 ? Number.POSITIVE_INFINITY : 10 * Math.log10((255 * 255) / e));
  const gain = psnrOf(squaredErrors.restored) - psnrOf(squaredErrors.jpeg);
  const kept = psnrOf(squaredErrors.derivative) - psnrOf(squaredErrors.jpeg);
  return {
    encoding: describeSetting(setting),
    bytes: bytes.length,
    psnrRgb: psnrOf(squaredErrors.derivative),
    gainKept: gain > 0 && Number.isFinite(kept) ? kept / gain : null,
    squaredErrors,
  };
}

/**
 * The share of encodings' squared error against the restorations that shows up against the truth, pooled
 * over results: (Σ derivative error − Σ restoration error) / Σ encoding error; null when the encodings
 * were lossless.
 */
export function errorTransfer(results: readonly DerivativeResult[]): number | null {
  const sum = (pick: (r: DerivativeResult) => number) => results.reduce((s, r) => s + pick(r), 0);
  const encoding = sum((r) => r.squaredErrors.encoding);
  if (!(encoding > 0)) return null;
  return (sum((r) => r.squaredErrors.derivative) - sum((r) => r.squaredErrors.restored)) / encoding;
}

/**
 * The derivatives of one quality's results: total bytes over the source JPEGs' total, the mean share of
 * the PSNR gain kept (images whose restoration gained nothing left out), their mean RGB PSNR, the pooled
 * error transfer, and the settings chosen with how many images got each.
 */
export interface DerivativeSummary {
  readonly bytesRatio: number;
  readonly gainKept: number | null;
  readonly psnrRgb: number;
  readonly errorTransfer: number | null;
  readonly encodings: Readonly<Record<string, number>>;
}

/** {@link DerivativeSummary} of results that carry one, as `{ derivative }` (empty when none does). */
export function summarizeDerivatives(
  rows: readonly { readonly derivative?: DerivativeResult; readonly jpegBytes: number }[],
): { derivative?: DerivativeSummary } {
  const measured = rows.flatMap((r) =>
    r.derivative === undefined ? [] : [{ ...r.derivative, src: r.jpegBytes }],
  );
  if (measured.length === 0) return {};
  const mean = (values: readonly number[]) => values.reduce((s, v) => s + v, 0) / values.length;
  const kept = measured.map((d) => d.gainKept).filter((k): k is number => k !== null);
  const encodings: Record<string, number> = {};
  for (const d of measured) encodings[d.encoding] = (encodings[d.encoding] ?? 0) + 1;
  return {
    derivative: {
      bytesRatio: measured.reduce((s, d) => s + d.bytes, 0) / measured.reduce((s, d) => s + d.src, 0),
      gainKept: kept.length === 0 ? null : mean(kept),
      psnrRgb: mean(measured.map((d) => d.psnrRgb)),
      errorTransfer: errorTransfer(measured),
      encodings,
    },
  };
}
