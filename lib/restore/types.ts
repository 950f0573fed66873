/**
 * The one restore interface shared by the CLI and every handler (docs/CONTRACTS.md). The handlers only
 * translate their events into these calls.
 */
import type { ExecutionProvider, OutputFormat } from "../config.js";
import type { Recompression } from "../jpeg/index.js";

/** Why an image was not restored. Stable strings: they appear in logs, metrics and HTTP headers. */
export type SkipReason =
  | "high-quality" // estimated quality at or above the skip threshold
  | "not-jpeg"
  | "too-large" // over the pixel or byte limit
  | "unsupported" // a JPEG we cannot restore (CMYK, 12-bit, ...)
  | "derivative"; // the object is itself an unjpeg derivative

export interface RestoreOptions {
  /** Output format of the restored image (default jpeg). */
  readonly format?: OutputFormat;
  /** Restore even when the estimated quality is at or above `skipQuality`. */
  readonly force?: boolean;
  /** Default 90. */
  readonly skipQuality?: number;
  /** Default 50,000,000. */
  readonly maxPixels?: number;
  /** Default 52,428,800. */
  readonly maxBytes?: number;
  /** Model folder; default the shipped model. */
  readonly modelDir?: string;
  readonly threads?: number;
  readonly executionProvider?: ExecutionProvider;
  /**
   * Run the model in the model worker thread, so that tiles are prepared and blended while it runs, or
   * (false) in the calling thread. Default: the worker when `threads` leaves a core free.
   */
  readonly modelInWorker?: boolean;
  /**
   * Restores past triage at once in this process (decoding, running the model, encoding); the others wait
   * in the process's run queue, in arrival order (lib/model/run-queue.ts). Default 2.
   */
  readonly modelConcurrency?: number;
  /** Checked between pipeline steps; an aborted restore throws and writes nothing. */
  readonly signal?: AbortSignal;
  /**
   * `auto` (the default): the encoder setting with the fewest bytes that keeps `keepGain` of the
   * restoration (lib/image/choose-encoding.ts); a number 1..100 forces that quality with the format's
   * standard tables (JPEG 4:4:4); ignored for png.
   */
  readonly quality?: number | "auto";
  /** The share of the restoration's PSNR gain `quality: "auto"` keeps, 0..1 (default 0.9, `UNJPEG_KEEP_GAIN`). */
  readonly keepGain?: number;
  /** JPEG with `quality: "auto"`: mozjpeg's trellis quantisation (default false, `UNJPEG_TRELLIS`). */
  readonly trellis?: boolean;
  /**
   * Project the restoration onto the source's quantization cells after the model (default true; for JPEG
   * sources in YCbCr or grey, 8-bit). False: the model's pixels as they are.
   */
  readonly projection?: boolean;
  /** Called after each tile of a long restore (the CLI prints progress from it). */
  readonly onProgress?: (progress: { readonly tile: number; readonly tiles: number }) => void;
  /**
   * Look for an earlier, harder compression in sources at or above `skipQuality` (lib/restore/resaved.ts);
   * default true (`UNJPEG_DETECT_RESAVED`).
   */
  readonly detectResaved?: boolean;
  /** What the caller's triage of these bytes found already (the S3 paths'): not looked for again. */
  readonly recompressed?: Recompression;
  /**
   * The caller's decision to restore these very bytes, made on their headers by the same rules (the S3
   * paths' triage, made once per source version): taken over, not made again (its `recompressed` too).
   */
  readonly decided?: RestoreDecision;
}

export interface RestoreDescription {
  /** Quality estimated from the quantization tables (the source of truth for decisions); null if not a JPEG. */
  readonly quality: number | null;
  readonly qualityMatch: "exact" | "approximate" | null;
  /** The model's own guess (CaVE quality head), when it ran. */
  readonly predictedQuality: number | null;
  /** `<id>@<version>` of the model that ran, when it ran. */
  readonly model: string | null;
  readonly width: number | null;
  readonly height: number | null;
  readonly inputBytes: number;
  readonly outputBytes: number | null;
  readonly format: OutputFormat | null;
  /** The encoder setting written, when restored: `jpeg q87 4:2:0 flat prog` (lib/image/encoder-setting.ts). */
  readonly encoding?: string;
  /** Milliseconds per named step (decode, cave, encoder, unet, decoder, search, encode, ...). */
  readonly timings: Readonly<Record<string, number>>;
  readonly totalMs: number;
  /** CPU milliseconds per step, all threads together: what a step costs when other work shares the cores. */
  readonly cpuTimings?: Readonly<Record<string, number>>;
  /**
   * A source re-saved from an earlier, harder compression, restored as one of that compression (its
   * quality conditioned the model, its grid offset padded the image); absent otherwise.
   */
  readonly recompressed?: Recompression;
  /** What the quantization-constraint projection did, when the model ran. */
  readonly projection?: ProjectionDescription;
  /** How the model ran, when it ran: tiles, where CaVE ran, execution provider, threads, band. */
  readonly run?: {
    readonly tiles: number;
    readonly cave: "whole" | "tiled";
    readonly provider: ExecutionProvider;
    readonly threads: number;
    /** The model's band that ran (its folder name, manifest `bands`); absent: the model's own weights. */
    readonly band?: string;
  };
}

/**
 * The quantization-constraint projection: applied, with the share of the source's coefficients the
 * restoration had moved out of their cells (and that were put back), or not, and why.
 */
export type ProjectionDescription =
  | {
      readonly applied: true;
      readonly clipped: number;
      /** A re-saved source's: its earlier compression's cells (lib/restore/earlier-cells.ts). */
      readonly cells?: "earlier";
    }
  | { readonly applied: false; readonly reason: string };

export type RestoreOutcome =
  | {
      readonly action: "restored";
      readonly output: Uint8Array;
      readonly contentType: string;
      readonly format: OutputFormat;
      readonly description: RestoreDescription;
    }
  | {
      readonly action: "skipped";
      readonly reason: SkipReason;
      readonly message: string;
      readonly description: RestoreDescription;
    };

/**
 * The triage decision from a prefix of the file (headers only): enough for S3 callers to skip objects
 * after one ranged GET. `need-more-bytes` says how many bytes from the start would answer it.
 */
export type TriageDecision =
  | {
      readonly action: "restore";
      readonly quality: number;
      readonly width: number;
      readonly height: number;
      /**
       * A source at or above the skip threshold re-saved from an earlier compression below it
       * (lib/restore/resaved.ts): restored conditioned on that one.
       */
      readonly recompressed?: Recompression;
    }
  | {
      readonly action: "skip";
      readonly reason: SkipReason;
      readonly message: string;
      readonly quality: number | null;
    }
  | { readonly action: "need-more-bytes"; readonly atLeast: number };

/** A decision to restore, with what the triage found. */
export type RestoreDecision = Extract<TriageDecision, { action: "restore" }>;
