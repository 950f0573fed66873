/**
 * Image-quality metrics of the JPEG-artifact-removal literature, as pure functions over 0..255 planes:
 * PSNR, SSIM (Wang et al. 2004, Gaussian 11×11 σ 1.5, valid region), PSNR-B (Yim & Bovik 2011) and the
 * BT.601 luma the field measures them on. Definitions match models/training/eval.py, so the TypeScript
 * and Python evaluations agree on the same pixels.
 */

/** Anything indexable holding one plane (or interleaved RGB) of 0..255 values. */
export type Plane = ArrayLike<number>;

function sameLength(a: Plane, b: Plane, what: string): void {
  if (a.length !== b.length) throw new RangeError(`${what}: ${a.length} values against ${b.length}`);
  if (a.length === 0) throw new RangeError(`${what}: empty input`);
}

/**
 * BT.601 luma on 16..235 from interleaved 8-bit RGB, as MATLAB's rgb2ycbcr (R, G, B in 0..255):
 * Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255. Not rounded (eval.py keeps it in float64 too).
 */
export function rgbToY(rgb: Plane): Float64Array {
  if (rgb.length % 3 !== 0) throw new RangeError(`rgbToY: ${rgb.length} values is not a multiple of 3`);
  const y = new Float64Array(rgb.length / 3);
  for (let i = 0, j = 0; i < y.length; i++, j += 3) {
    y[i] = 16 + (65.481 * rgb[j]! + 128.553 * rgb[j + 1]! + 24.966 * rgb[j + 2]!) / 255;
  }
  return y;
}

/** Mean squared difference. */
export function mse(a: Plane, b: Plane): number {
  sameLength(a, b, "mse");
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    sum += d * d;
  }
  return sum / a.length;
}

/** PSNR in dB for a peak of 255 over every value given (all channels when RGB); Infinity when equal. */
export function psnr(a: Plane, b: Plane): number {
  const e = mse(a, b);
  return e === 0 ? Number.POSITIVE_INFINITY : 10 * Math.log10((255 * 255) / e);
}

/** The normalised 1-D Gaussian of the SSIM window (11 taps, σ 1.5), as cv2.getGaussianKernel. */
export function gaussianWindow(size = 11, sigma = 1.5): Float64Array {
  const g = new Float64Array(size);
  const c = (size - 1) / 2;
  let sum = 0;
  for (let k = 0; k < size; k++) {
    g[k] = Math.exp(-((k - c) ** 2) / (2 * sigma * sigma));
    sum += g[k]!;
  }
  for (let k = 0; k < size; k++) g[k]! /= sum;
  return g;
}

/** Separable 'valid' filtering of a width×height plane: (height-n+1)×(width-n+1) out. */
function filterValid(x: Float64Array, width: number, height: number, g: Float64Array): Float64Array {
  const n = g.length;
  const ow = width - n + 1;
  const oh = height - n + 1;
  const rows = new Float64Array(oh * width);
  for (let y = 0; y < oh; y++) {
    for (let k = 0; k < n; k++) {
      const w = g[k]!;
      const src = (y + k) * width;
      const dst = y * width;
      for (let xi = 0; xi < width; xi++) rows[dst + xi]! += w * x[src + xi]!;
    }
  }
  const out = new Float64Array(oh * ow);
  for (let y = 0; y < oh; y++) {
    const src = y * width;
    const dst = y * ow;
    for (let xi = 0; xi < ow; xi++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += g[k]! * rows[src + xi + k]!;
      out[dst + xi] = s;
    }
  }
  return out;
}

/**
 * SSIM of two width×height planes in 0..255 (Wang et al. 2004): Gaussian 11×11 σ 1.5 statistics over
 * the valid region, C1 = (0.01·255)², C2 = (0.03·255)², mean of the map. As FBCNN/DnCNN's evaluation.
 */
export function ssim(a: Plane, b: Plane, width: number, height: number): number {
  sameLength(a, b, "ssim");
  if (a.length !== width * height) throw new RangeError(`ssim: ${a.length} values for ${width}×${height}`);
  const g = gaussianWindow();
  if (width < g.length || height < g.length) throw new RangeError(`ssim: ${width}×${height} is under 11×11`);
  const x = Float64Array.from(a);
  const y = Float64Array.from(b);
  const xx = x.map((v) => v * v);
  const yy = y.map((v) => v * v);
  const xy = x.map((v, i) => v * y[i]!);
  const [mx, my, fxx, fyy, fxy] = [x, y, xx, yy, xy].map((p) => filterValid(p, width, height, g)) as [
    Float64Array,
    Float64Array,
    Float64Array,
    Float64Array,
    Float64Array,
  ];
  const c1 = (0.01 * 255) ** 2;
  const c2 = (0.03 * 255) ** 2;
  let sum = 0;
  for (let i = 0; i < mx.length; i++) {
    const ux = mx[i]!;
    const uy = my[i]!;
    const sxx = fxx[i]! - ux * ux;
    const syy = fyy[i]! - uy * uy;
    const sxy = fxy[i]! - ux * uy;
    sum += ((2 * ux * uy + c1) * (2 * sxy + c2)) / ((ux * ux + uy * uy + c1) * (sxx + syy + c2));
  }
  return sum / mx.length;
}

/**
 * Blocking effect factor of a width×height plane scaled to 0..1 (Yim & Bovik 2011, as FBCNN's utils):
 * how much more the squared differences across 8×8 block boundaries exceed those inside blocks, scaled by
 * log2(8)/log2(min(h, w)); 0 when boundaries are no rougher than the rest.
 */
export function blockingEffectFactor(plane01: Plane, width: number, height: number): number {
  let dBoundary = 0;
  let dInner = 0;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width - 1; x++) {
      const d = (plane01[row + x]! - plane01[row + x + 1]!) ** 2;
      if (x % 8 === 7) dBoundary += d;
      else dInner += d;
    }
  }
  for (let y = 0; y < height - 1; y++) {
    const row = y * width;
    const boundary = y % 8 === 7;
    for (let x = 0; x < width; x++) {
      const d = (plane01[row + x]! - plane01[row + width + x]!) ** 2;
      if (boundary) dBoundary += d;
      else dInner += d;
    }
  }
  // The counts of the reference implementation: boundaries at every multiple of 8 inside the image.
  const nBoundaryH = height * (Math.floor(width / 8) - 1);
  const nBoundaryV = width * (Math.floor(height / 8) - 1);
  const nInnerH = height * (width - 1) - nBoundaryH;
  const nInnerV = width * (height - 1) - nBoundaryV;
  const boundary = dBoundary / (nBoundaryH + nBoundaryV);
  const inner = dInner / (nInnerH + nInnerV);
  if (!(boundary > inner)) return 0;
  return (Math.log2(8) / Math.log2(Math.min(width, height))) * (boundary - inner);
}

/**
 * PSNR-B in dB of `test` against `reference`, both width×height planes in 0..255: the MSE plus the
 * blocking effect factor of the tested image (Yim & Bovik's definition; eval.py does the same).
 */
export function psnrB(reference: Plane, test: Plane, width: number, height: number): number {
  sameLength(reference, test, "psnrB");
  if (test.length !== width * height)
    throw new RangeError(`psnrB: ${test.length} values for ${width}×${height}`);
  const t01 = Float64Array.from(test, (v) => v / 255);
  let sum = 0;
  for (let i = 0; i < t01.length; i++) {
    const d = reference[i]! / 255 - t01[i]!;
    sum += d * d;
  }
  const total = sum / t01.length + blockingEffectFactor(t01, width, height);
  return total === 0 ? Number.POSITIVE_INFINITY : 10 * Math.log10(1 / total);
}

export interface ImageMetrics {
  /** PSNR over the three RGB channels together. */
  readonly psnrRgb: number;
  /** PSNR on BT.601 luma (on the grey channel for grey images). */
  readonly psnrY: number;
  /** SSIM on luma (or grey). */
  readonly ssimY: number;
  /** PSNR-B on luma (or grey). */
  readonly psnrbY: number;
}

/**
 * Every metric of `test` against `reference`, interleaved 8-bit RGB of width×height. For a grey image
 * (equal channels) the luma metrics use the grey values themselves, as the field does for grey sets.
 */
export function imageMetrics(
  reference: Plane,
  test: Plane,
  width: number,
  height: number,
  grey = false,
): ImageMetrics {
  sameLength(reference, test, "imageMetrics");
  if (reference.length !== width * height * 3)
    throw new RangeError(`imageMetrics: ${reference.length} values for ${width}×${height} RGB`);
  const luma = (rgb: Plane): Float64Array =>
    grey ? Float64Array.from({ length: width * height }, (_, i) => rgb[i * 3]!) : rgbToY(rgb);
  const ry = luma(reference);
  const ty = luma(test);
  return {
    psnrRgb: psnr(reference, test),
    psnrY: psnr(ry, ty),
    ssimY: ssim(ry, ty, width, height),
    psnrbY: psnrB(ry, ty, width, height),
  };
}
