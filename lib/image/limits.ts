/** Decompression-bomb guards: both are checked from the headers, before any pixel is decoded. */
export interface ImageLimits {
  /** Default 50,000,000. */
  readonly maxPixels: number;
  /** Default 52,428,800 (50 MiB). */
  readonly maxBytes: number;
}

export const DEFAULT_LIMITS: ImageLimits = Object.freeze({ maxPixels: 50_000_000, maxBytes: 52_428_800 });
