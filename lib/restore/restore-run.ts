/**
 * One restore's account of itself, passed from step to step of restore.ts (no state held in closures),
 * what its triage passes on, and how it says it skipped.
 */
import type { OutputFormat } from "../config.js";
import type { JpegInspection, Recompression } from "../jpeg/index.js";
import type { SourceTables } from "../model/qtables.js";
import type { Stepper } from "./stepper.js";
import type { RestoreDescription, RestoreOptions, RestoreOutcome, SkipReason } from "./types.js";

/** One restore's account of itself, passed from step to step (no state held in closures). */
export interface RestoreRun {
  readonly bytes: Uint8Array;
  readonly options: RestoreOptions;
  readonly format: OutputFormat;
  readonly limits: { readonly maxPixels: number; readonly maxBytes: number };
  readonly start: number;
  readonly timings: Record<string, number>;
  readonly cpuTimings: Record<string, number>;
  readonly timed: Stepper;
}

/** What the triage passes on to a restore. */
export interface Triaged {
  readonly quality: number;
  readonly width: number;
  readonly height: number;
  readonly tables: SourceTables | null;
  readonly inspection: JpegInspection | null;
  /** A re-saved source: restored as a file of its earlier compression (lib/restore/resaved.ts). */
  readonly recompressed: Recompression | undefined;
  /** The description so far (what a skip reports too). */
  readonly base: Omit<RestoreDescription, "totalMs">;
}

/** A skip, with the description so far. */
export function skipped(
  run: RestoreRun,
  base: Omit<RestoreDescription, "totalMs">,
  reason: SkipReason,
  message: string,
): RestoreOutcome {
  return {
    action: "skipped",
    reason,
    message,
    description: { ...base, totalMs: performance.now() - run.start },
  };
}
