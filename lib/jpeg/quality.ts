/**
 * IJG quality from quantization tables. Exact when some quality 1..100 (with either clamp) reproduces
 * every table entry for entry; otherwise the nearest quality by mean absolute log-ratio of the entries,
 * reported as approximate. Candidate tables are built once per process.
 */
import { ANNEX_K_CHROMA, ANNEX_K_LUMA, type IjgClamp, ijgTable } from "./ijg.js";

/** Which Annex K base a table is compared with: luma for the first frame component's table. */
export type TableRole = "luma" | "chroma";

export interface RoledTable {
  readonly role: TableRole;
  /** 64 entries in natural order. */
  readonly values: readonly number[];
}

export interface QualityEstimate {
  /** IJG quality 1..100. */
  readonly quality: number;
  /** "exact": these are libjpeg's tables for `quality`. "approximate": the nearest IJG quality. */
  readonly match: "exact" | "approximate";
  /**
   * Mean over all entries of |ln(entry / IJG entry)|, 4 significant digits: 0 when exact; 0.1 means the
   * entries are off by about 10% on average.
   */
  readonly distance: number;
  /** The clamp of the matching (or nearest) tables: 255 = baseline (8-bit) tables, 32767 = 16-bit allowed. */
  readonly clamp: IjgClamp;
}

interface Candidate {
  readonly quality: number;
  readonly clamp: IjgClamp;
  readonly luma: Int32Array;
  readonly chroma: Int32Array;
  readonly lumaLog: Float64Array;
  readonly chromaLog: Float64Array;
}

let candidates: Candidate[] | undefined;

function allCandidates(): Candidate[] {
  if (candidates !== undefined) return candidates;
  const built: Candidate[] = [];
  for (const clamp of [255, 32767] as const) {
    for (let quality = 1; quality <= 100; quality++) {
      const luma = Int32Array.from(ijgTable(ANNEX_K_LUMA, quality, clamp));
      const chroma = Int32Array.from(ijgTable(ANNEX_K_CHROMA, quality, clamp));
      built.push({
        quality,
        clamp,
        luma,
        chroma,
        lumaLog: Float64Array.from(luma, Math.log),
        chromaLog: Float64Array.from(chroma, Math.log),
      });
    }
  }
  candidates = built;
  return built;
}

function sameEntries(values: readonly number[], table: Int32Array): boolean {
  for (let i = 0; i < 64; i++) if (values[i] !== table[i]) return false;
  return true;
}

export function estimateIjgQuality(tables: readonly RoledTable[]): QualityEstimate {
  if (tables.length === 0) throw new RangeError("estimateIjgQuality needs at least one table");
  for (const t of tables) {
    if (t.values.length !== 64)
      throw new RangeError(`a quantization table has 64 entries, got ${t.values.length}`);
  }
  const all = allCandidates();
  // The luma table alone differs between any two qualities, so the first exact match is the only one.
  for (const c of all) {
    if (tables.every((t) => sameEntries(t.values, t.role === "luma" ? c.luma : c.chroma))) {
      return { quality: c.quality, match: "exact", distance: 0, clamp: c.clamp };
    }
  }
  const logs = tables.map((t) => ({ role: t.role, logs: Float64Array.from(t.values, Math.log) }));
  let best = all[0]!;
  let bestSum = Number.POSITIVE_INFINITY;
  for (const c of all) {
    let sum = 0;
    for (const t of logs) {
      const reference = t.role === "luma" ? c.lumaLog : c.chromaLog;
      for (let i = 0; i < 64; i++) sum += Math.abs(t.logs[i]! - reference[i]!);
      if (sum >= bestSum) break;
    }
    if (sum < bestSum) {
      bestSum = sum;
      best = c;
    }
  }
  const distance = Number((bestSum / (64 * tables.length)).toPrecision(4));
  return { quality: best.quality, match: "approximate", distance, clamp: best.clamp };
}
