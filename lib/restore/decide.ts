/**
 * Triage from the first bytes of a file: restore it, skip it (and why), or read more. Answered from the
 * JPEG headers alone, so S3 callers decide after one ranged GET, except for sources whose tables say
 * "high quality": for those the re-saved check (resaved.ts) reads the first part of the scan too (one more
 * ranged GET), since an earlier, harder compression turns the skip into a restore. `restore()` asks the
 * same question of the whole file before decoding anything.
 */
import { DERIVATIVE_SOFTWARE } from "../image/mark.js";
import { inspectJpeg, JpegError, type JpegInspection, type Recompression } from "../jpeg/index.js";
import type { SourceTables } from "../model/qtables.js";
import { checkResaved } from "./resaved.js";
import type { TriageDecision } from "./types.js";

export interface TriageOptions {
  /** Restore even when the estimated quality is at or above `skipQuality`. */
  readonly force?: boolean;
  /** Default 90. */
  readonly skipQuality?: number;
  /** Default 50,000,000. */
  readonly maxPixels?: number;
  /** Default 52,428,800. */
  readonly maxBytes?: number;
  /**
   * Size of the whole file when known (an S3 object's size; `bytes.length` for a whole file). Without it
   * the re-saved check takes `bytes` for the whole file (it reads what it is given, never asks for more).
   */
  readonly totalBytes?: number;
  /** Look for an earlier, harder compression in sources at or above `skipQuality` (default true). */
  readonly detectResaved?: boolean;
  /**
   * What the caller's own triage of this file found already (the S3 paths', on a prefix): used as it is,
   * not looked for again.
   */
  readonly recompressed?: Recompression;
}

export const TRIAGE_DEFAULTS = Object.freeze({
  skipQuality: 90,
  maxPixels: 50_000_000,
  maxBytes: 52_428_800,
});

/**
 * What unjpeg writes into EXIF `Software` of its derivatives (lib/image/encode.ts). Finding it in the
 * headers marks the file as a derivative, so a pipeline that sees its own output does not loop.
 */
const MARK_BYTES = new TextEncoder().encode(DERIVATIVE_SOFTWARE);

function containsMark(bytes: Uint8Array, end: number): boolean {
  const first = MARK_BYTES[0]!;
  const limit = Math.min(end, bytes.length) - MARK_BYTES.length;
  outer: for (let i = 0; i <= limit; i++) {
    if (bytes[i] !== first) continue;
    for (let k = 1; k < MARK_BYTES.length; k++) if (bytes[i + k] !== MARK_BYTES[k]) continue outer;
    return true;
  }
  return false;
}

export function decide(bytes: Uint8Array, options: TriageOptions = {}): TriageDecision {
  return triage(bytes, options).decision;
}

/**
 * {@link decide}, with how the quality was matched (exact IJG tables or the nearest equivalent) and the
 * tables the source was quantized with (what a model told the compression is fed), when the headers held them,
 * and the inspection it was decided from (null when the headers could not be read).
 */
export function triage(
  bytes: Uint8Array,
  options: TriageOptions = {},
): {
  decision: TriageDecision;
  match: "exact" | "approximate" | null;
  tables: SourceTables | null;
  inspection: JpegInspection | null;
} {
  let inspected: JpegInspection | undefined;
  const decision = decideInner(bytes, options, (inspection) => {
    inspected = inspection;
  });
  return {
    decision,
    match: inspected?.match ?? null,
    tables: inspected === undefined ? null : sourceTables(inspected),
    inspection: inspected ?? null,
  };
}

/** Luma: the first component's table; chroma: the second's, or the first again for a grey JPEG. */
function sourceTables(inspection: JpegInspection): SourceTables | null {
  const tableOf = (component: number) => {
    const slot = inspection.componentInfo[component]?.slot;
    return inspection.tables.find((table) => table.slot === slot)?.values;
  };
  const luma = tableOf(0);
  if (luma === undefined) return null;
  return [luma, tableOf(1) ?? luma];
}

function decideInner(
  bytes: Uint8Array,
  options: TriageOptions,
  onInspected: (inspection: JpegInspection) => void,
): TriageDecision {
  const maxBytes = options.maxBytes ?? TRIAGE_DEFAULTS.maxBytes;
  const maxPixels = options.maxPixels ?? TRIAGE_DEFAULTS.maxPixels;
  const skipQuality = options.skipQuality ?? TRIAGE_DEFAULTS.skipQuality;
  const total = options.totalBytes;
  const skip = (
    reason: Extract<TriageDecision, { action: "skip" }>["reason"],
    message: string,
    quality: number | null = null,
  ) => ({ action: "skip", reason, message, quality }) as const;

  if (total !== undefined && total > maxBytes) {
    return skip("too-large", `the file is ${total} bytes, over the limit of ${maxBytes}`);
  }
  if (bytes.length < 2 && (total === undefined || total > bytes.length))
    return { action: "need-more-bytes", atLeast: 2 };
  if (bytes.length < 2 || bytes[0] !== 0xff || bytes[1] !== 0xd8)
    return skip("not-jpeg", "not a JPEG (no SOI marker)");

  let inspection: ReturnType<typeof inspectJpeg>;
  try {
    inspection = inspectJpeg(bytes, total === undefined ? {} : { fileSize: total });
  } catch (error) {
    if (!(error instanceof JpegError)) throw error;
    if (error.code === "JPEG_NOT_JPEG" || error.code === "JPEG_EMPTY") return skip("not-jpeg", error.message);
    return skip("unsupported", `the JPEG headers cannot be used: ${error.message} [${error.code}]`);
  }
  if (inspection.status === "need-more-bytes")
    return { action: "need-more-bytes", atLeast: inspection.atLeast };

  const { quality, width, height, components, bitDepth } = inspection;
  onInspected(inspection);
  if (containsMark(bytes, inspection.headerBytes)) {
    return skip("derivative", "the image is an unjpeg derivative (EXIF Software names unjpeg)", quality);
  }
  if (width * height > maxPixels) {
    return skip(
      "too-large",
      `the image is ${width}×${height} (${width * height} pixels), over the limit of ${maxPixels}`,
      quality,
    );
  }
  if (components === 4) return skip("unsupported", "CMYK JPEGs are not supported", quality);
  if (components !== 1 && components !== 3) {
    return skip("unsupported", `JPEGs with ${components} components are not supported`, quality);
  }
  if (bitDepth !== 8) return skip("unsupported", `${bitDepth}-bit JPEGs are not supported`, quality);
  if (height === 0)
    return skip(
      "unsupported",
      "JPEGs whose height is given after the first scan (DNL) are not supported",
      quality,
    );
  if (quality >= skipQuality) {
    // Forced too: an earlier compression found changes how it is restored, not only whether.
    const restore = { action: "restore", quality, width, height } as const;
    const message = `estimated quality ${quality} is at or above ${skipQuality}`;
    const high = () => (options.force ? restore : skip("high-quality", message, quality));
    if (options.detectResaved === false) return high();
    const check =
      options.recompressed === undefined
        ? checkResaved(bytes, inspection, total ?? bytes.length, maxPixels)
        : ({ status: "checked", recompressed: options.recompressed } as const);
    if (check.status === "need-more-bytes") return { action: "need-more-bytes", atLeast: check.atLeast };
    const earlier = check.status === "checked" ? check.recompressed : null;
    if (earlier === null) return high();
    if (earlier.quality >= skipQuality) {
      const also = `${message}, and so is its earlier compression's (${earlier.quality})`;
      return options.force ? restore : skip("high-quality", also, quality);
    }
    // Re-saved: restored like a file of the earlier compression's quality.
    return { ...restore, recompressed: earlier };
  }
  return { action: "restore", quality, width, height };
}
