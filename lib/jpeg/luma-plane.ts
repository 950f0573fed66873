/**
 * The luma samples of a JPEG, decoded from its quantized coefficients (lib/jpeg/coefficients.ts) with the
 * project's DCT (dct.ts): what the block-grid analysis of re-saved files reads (lib/jpeg/recompression.ts).
 */
import type { JpegCoefficients } from "./coefficients.js";
import { INVERSE_SCALE, inverseDct } from "./dct.js";

export interface LumaPlane {
  /** Samples in [0, 255], not rounded; row `y` starts at `y * stride`. */
  readonly data: Float32Array;
  /** The component's samples across, and down as far as its decoded rows go. */
  readonly width: number;
  readonly height: number;
  readonly stride: number;
}

/** The first component's samples (luma, or the one grey component), as far as its decoded rows go. */
export function lumaPlane(image: JpegCoefficients): LumaPlane {
  const luma = image.components[0]!;
  const { blocksWide, quant, coefficients } = luma;
  const rows = luma.rows ?? luma.blocksHigh;
  const stride = blocksWide * 8;
  const data = new Float32Array(stride * rows * 8);
  const scale = Float32Array.from(quant, (q, k) => q * INVERSE_SCALE[k]!);
  for (let by = 0; by < rows; by++) {
    for (let bx = 0; bx < blocksWide; bx++) {
      const at = (by * blocksWide + bx) * 64;
      const offset = by * 8 * stride + bx * 8;
      let flat = true;
      for (let k = 1; k < 64 && flat; k++) flat = coefficients[at + k] === 0;
      if (flat) {
        // DC only: a constant block (F(0,0) = 8 × the mean).
        const value = Math.min(255, Math.max(0, (coefficients[at]! * quant[0]!) / 8 + 128));
        for (let y = 0; y < 8; y++) data.fill(value, offset + y * stride, offset + y * stride + 8);
        continue;
      }
      for (let k = 0; k < 64; k++)
        data[offset + (k >> 3) * stride + (k & 7)] = coefficients[at + k]! * scale[k]!;
      inverseDct(data, offset, stride);
      // Level-shifted and clamped as an 8-bit decoder's output is (not rounded).
      for (let y = 0; y < 8; y++) {
        for (let x = offset + y * stride, end = x + 8; x < end; x++)
          data[x] = Math.min(255, Math.max(0, data[x]! + 128));
      }
    }
  }
  const width = Math.ceil((image.width * luma.h) / image.maxH);
  const height = Math.min(Math.ceil((image.height * luma.v) / image.maxV), rows * 8);
  return { data, width, height, stride };
}
