/** Decompression-bomb guards: both are checked from the headers, before any pixel is decoded. */
export interface ImageLimits {
  /** Default 50,000,000. */
  readonly maxPixels: number;
  /** Default 52,428,800 (50 MiB). */
  readonly maxBytes: number;
}

/** The one place of these defaults: the configuration (UNJPEG_MAX_PIXELS, UNJPEG_MAX_BYTES), the triage and the decoders read them here. */
export const DEFAULT_LIMITS: ImageLimits = Object.freeze({ maxPixels: 50_000_000, maxBytes: 52_428_800 });

/** Sources whose estimated quality is at or above this are skipped (UNJPEG_SKIP_QUALITY's default). */
export const DEFAULT_SKIP_QUALITY = 90;
