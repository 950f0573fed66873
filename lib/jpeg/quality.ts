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
        lumaLog: logsOf(luma),
        chromaLog: logsOf(chroma),
      });
    }
  }
  candidates = built;
  return built;
}

let byQualityCache: Candidate[][] | undefined;

/**
 * Candidates by quality (index 1..100): the 255-clamped tables, and the 32767-clamped ones where they
 * differ (qualities below 25).
 */
function candidatesByQuality(): Candidate[][] {
  if (byQualityCache !== undefined) return byQualityCache;
  const table: Candidate[][] = Array.from({ length: 101 }, () => []);
  for (const c of allCandidates()) {
    const twin = table[c.quality]![0];
    if (twin === undefined || !sameTable(twin.luma, c.luma) || !sameTable(twin.chroma, c.chroma)) {
      table[c.quality]!.push(c);
    }
  }
  byQualityCache = table;
  return table;
}

/** The quality whose scale factor matches the tables' mean log-ratio to Annex K (a starting point only). */
function guessQuality(logs: readonly { luma: boolean; logs: Float64Array }[]): number {
  let sum = 0;
  for (const t of logs) {
    const base = t.luma ? ANNEX_K_LUMA : ANNEX_K_CHROMA;
    for (let i = 0; i < 64; i++) sum += t.logs[i]! - Math.log(base[i]!);
  }
  const scale = 100 * Math.exp(sum / (64 * logs.length));
  const quality = scale <= 100 ? (200 - scale) / 2 : 5000 / scale;
  return Math.min(100, Math.max(1, Math.round(quality)));
}

/** Natural logs of 64 entries (a plain loop: Float64Array.from with a map function is slow in V8). */
function logsOf(values: ArrayLike<number>): Float64Array {
  const logs = new Float64Array(64);
  for (let i = 0; i < 64; i++) logs[i] = Math.log(values[i]!);
  return logs;
}

function sameTable(a: Int32Array, b: Int32Array): boolean {
  return a.every((v, i) => v === b[i]);
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
    let same = true;
    for (let k = 0; k < tables.length && same; k++) {
      const t = tables[k]!;
      same = sameEntries(t.values, t.role === "luma" ? c.luma : c.chroma);
    }
    if (same) return { quality: c.quality, match: "exact", distance: 0, clamp: c.clamp };
  }
  // Archives repeat the same few non-IJG table sets (one per camera model or editor preset): remember them.
  const key = tables.map((t) => `${t.role === "luma" ? "L" : "C"}${t.values.join(",")}`).join("|");
  const known = approximateCache.get(key);
  if (known !== undefined) return known;
  const estimate = Object.freeze(nearestQuality(tables));
  if (approximateCache.size >= APPROXIMATE_CACHE_ENTRIES) approximateCache.clear();
  approximateCache.set(key, estimate);
  return estimate;
}

const APPROXIMATE_CACHE_ENTRIES = 1024;
const approximateCache = new Map<string, QualityEstimate>();

/** The IJG quality minimising the mean absolute log-ratio over all entries (a full search). */
function nearestQuality(tables: readonly RoledTable[]): QualityEstimate {
  const logs = tables.map((t) => ({ luma: t.role === "luma", logs: logsOf(t.values) }));
  // Visit the likeliest qualities first, so that most candidates are given up early.
  const guess = guessQuality(logs);
  const byQuality = candidatesByQuality();
  let best = byQuality[guess]![0]!;
  let bestRank = Number.POSITIVE_INFINITY;
  let bestSum = Number.POSITIVE_INFINITY;
  // guess, guess + 1, guess - 1, guess + 2, ...: every quality 1..100 once, whatever the guess.
  for (let step = 0; step < 200; step++) {
    const quality = step % 2 === 0 ? guess - step / 2 : guess + (step + 1) / 2;
    if (quality < 1 || quality > 100) continue;
    for (const c of byQuality[quality]!) {
      let sum = 0;
      for (const t of logs) {
        const reference = t.luma ? c.lumaLog : c.chromaLog;
        const own = t.logs;
        // Give up on a candidate once it is worse than the best, checking every 16 entries.
        for (let i = 0; i < 64 && sum <= bestSum; i += 16) {
          for (let j = i; j < i + 16; j++) sum += Math.abs(own[j]! - reference[j]!);
        }
        if (sum > bestSum) break;
      }
      // Ties go to the lower clamp, then the lower quality, whatever the visiting order.
      const rank = (c.clamp === 255 ? 0 : 100) + c.quality;
      if (sum < bestSum || (sum === bestSum && rank < bestRank)) {
        bestSum = sum;
        bestRank = rank;
        best = c;
      }
    }
  }
  const distance = Number((bestSum / (64 * tables.length)).toPrecision(4));
  return { quality: best.quality, match: "approximate", distance, clamp: best.clamp };
}
