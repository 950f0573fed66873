/** Per-quality summaries of an evaluation's results (lib/eval/evaluate.ts). */
import { type DerivativeSummary, summarizeDerivatives } from "./derivative.js";
import type { ImageResult } from "./evaluate.js";
import type { ImageMetrics } from "./metrics.js";

export interface MetricMeans {
  readonly psnrRgb: number;
  readonly psnrY: number;
  readonly ssimY: number;
  readonly psnrbY: number;
}

export interface QualitySummary {
  readonly quality: number;
  readonly images: number;
  readonly jpeg: MetricMeans;
  readonly restored: MetricMeans;
  readonly gain: {
    readonly psnrRgb: number;
    readonly psnrY: number;
    readonly ssimY: number;
    readonly psnrbY: number;
  };
  /** The smallest per-image PSNR-RGB gain, and its image. */
  readonly worstGain: { readonly psnrRgb: number; readonly image: string };
  /** Images whose restoration has a lower PSNR-RGB than their JPEG. */
  readonly imagesWorse: number;
  /** Mean |CaVE estimate − quality|; null when the model has no quality head. */
  readonly caveMae: number | null;
  /** Mean butteraugli 3-norms and their change (restored − JPEG; negative is better), when measured. */
  readonly butteraugli: { readonly jpeg: number; readonly restored: number; readonly change: number } | null;
  /** Mean share of coefficients the projection put back into their cells, when it ran on every image. */
  readonly clipped: number | null;
  /** Summed restore() time, seconds, and throughput in megapixels per second. */
  readonly restoreSeconds: number;
  readonly megapixelsPerSecond: number;
  /** The derivatives, when measured (lib/eval/derivative.ts). */
  readonly derivative?: DerivativeSummary;
}

const mean = (values: readonly number[]): number => values.reduce((s, v) => s + v, 0) / values.length;

function means(rows: readonly ImageMetrics[]): MetricMeans {
  return {
    psnrRgb: mean(rows.map((r) => r.psnrRgb)),
    psnrY: mean(rows.map((r) => r.psnrY)),
    ssimY: mean(rows.map((r) => r.ssimY)),
    psnrbY: mean(rows.map((r) => r.psnrbY)),
  };
}

/** Per-quality means of the results (qualities in the order given; those without results left out). */
export function summarize(results: readonly ImageResult[], qualities: readonly number[]): QualitySummary[] {
  const out: QualitySummary[] = [];
  for (const quality of qualities) {
    const rows = results.filter((r) => r.quality === quality);
    if (rows.length === 0) continue;
    const jpeg = means(rows.map((r) => r.jpeg));
    const restored = means(rows.map((r) => r.restored));
    const worst = rows.reduce((w, r) => (r.gain.psnrRgb < w.gain.psnrRgb ? r : w));
    const predicted = rows.map((r) => r.predictedQuality).filter((p): p is number => p !== null);
    const seconds = rows.reduce((s, r) => s + r.restoreMs, 0) / 1000;
    const perceptual = rows.every((r) => r.butteraugli !== null)
      ? {
          jpeg: mean(rows.map((r) => r.butteraugli!.jpeg)),
          restored: mean(rows.map((r) => r.butteraugli!.restored)),
        }
      : null;
    const clipped = rows.map((r) => (r.projection?.applied === true ? r.projection.clipped : null));
    const megapixels = rows.reduce((s, r) => s + r.width * r.height, 0) / 1e6;
    out.push({
      quality,
      images: rows.length,
      jpeg,
      restored,
      gain: {
        psnrRgb: restored.psnrRgb - jpeg.psnrRgb,
        psnrY: restored.psnrY - jpeg.psnrY,
        ssimY: restored.ssimY - jpeg.ssimY,
        psnrbY: restored.psnrbY - jpeg.psnrbY,
      },
      worstGain: { psnrRgb: worst.gain.psnrRgb, image: worst.image },
      imagesWorse: rows.filter((r) => r.gain.psnrRgb < 0).length,
      caveMae: predicted.length === 0 ? null : mean(predicted.map((p) => Math.abs(p - quality))),
      butteraugli:
        perceptual === null ? null : { ...perceptual, change: perceptual.restored - perceptual.jpeg },
      clipped: clipped.every((c) => c !== null) ? mean(clipped as number[]) : null,
      restoreSeconds: seconds,
      megapixelsPerSecond: seconds > 0 ? megapixels / seconds : 0,
      ...summarizeDerivatives(rows),
    });
  }
  return out;
}
