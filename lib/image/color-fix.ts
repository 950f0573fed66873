/**
 * Colour fixes after restoration (as in CODiff and OSEDiff): the model may shift colours, so the output's
 * low-frequency colour is taken from the JPEG-decoded input. In place on planar float RGB in [0, 1].
 */

/** Matches each channel's mean and standard deviation to the input's (AdaIN). */
export function adainFix(output: Float32Array, input: Uint8Array, width: number, height: number): void {
  const plane = width * height;
  for (let c = 0; c < 3; c++) {
    let sumIn = 0;
    let sumInSq = 0;
    let sumOut = 0;
    let sumOutSq = 0;
    for (let i = 0; i < plane; i++) {
      const a = input[i * 3 + c]! / 255;
      const b = output[c * plane + i]!;
      sumIn += a;
      sumInSq += a * a;
      sumOut += b;
      sumOutSq += b * b;
    }
    const meanIn = sumIn / plane;
    const meanOut = sumOut / plane;
    const stdIn = Math.sqrt(Math.max(0, sumInSq / plane - meanIn * meanIn));
    const stdOut = Math.sqrt(Math.max(0, sumOutSq / plane - meanOut * meanOut));
    // A flat output (std 0) would divide by zero: then only the mean is matched.
    const gain = stdOut > 1e-6 ? stdIn / stdOut : 1;
    for (let i = 0; i < plane; i++) {
      const k = c * plane + i;
      output[k] = (output[k]! - meanOut) * gain + meanIn;
    }
  }
}

/**
 * Smooths one plane in place with CODiff's wavelet low-pass: five passes of a 3×3 binomial kernel with
 * dilation 1, 2, 4, 8, 16 (à trous), edges replicated. `scratch` is a plane-sized buffer.
 */
export function waveletLowPass(
  plane: Float32Array,
  width: number,
  height: number,
  scratch: Float32Array,
): void {
  for (let level = 0; level < 5; level++) {
    const d = 1 << level;
    for (let y = 0; y < height; y++) {
      const row = y * width;
      for (let x = 0; x < width; x++) {
        const l = plane[row + Math.max(0, x - d)]!;
        const r = plane[row + Math.min(width - 1, x + d)]!;
        scratch[row + x] = 0.25 * l + 0.5 * plane[row + x]! + 0.25 * r;
      }
    }
    for (let y = 0; y < height; y++) {
      const up = Math.max(0, y - d) * width;
      const down = Math.min(height - 1, y + d) * width;
      const row = y * width;
      for (let x = 0; x < width; x++) {
        plane[row + x] = 0.25 * scratch[up + x]! + 0.5 * scratch[row + x]! + 0.25 * scratch[down + x]!;
      }
    }
  }
}

/** Replaces the output's low frequencies with the input's: out = out − low(out) + low(in). */
export function waveletFix(output: Float32Array, input: Uint8Array, width: number, height: number): void {
  const plane = width * height;
  const lowOut = new Float32Array(plane);
  const lowIn = new Float32Array(plane);
  const scratch = new Float32Array(plane);
  for (let c = 0; c < 3; c++) {
    lowOut.set(output.subarray(c * plane, (c + 1) * plane));
    for (let i = 0; i < plane; i++) lowIn[i] = input[i * 3 + c]! / 255;
    waveletLowPass(lowOut, width, height, scratch);
    waveletLowPass(lowIn, width, height, scratch);
    for (let i = 0; i < plane; i++) output[c * plane + i] += lowIn[i]! - lowOut[i]!;
  }
}
