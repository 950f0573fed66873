/**
 * Issue 17's numbers, on the re-saved set of bench/resaved-set.ts (LIVE1 and the training pool's held-out
 * photos: earlier QF 5..30, later QF 90..95, grid shifts 0..7, 4:2:0 and 4:4:4 later sampling):
 *   1. detection: the confusion table of the earlier quality found against the true one, the grid found,
 *      and false detections on the same photos compressed once at QF 85..98 (targets: ≥ 95 % found with
 *      the earlier quality within ±5 and the right grid; ≤ 2 % false);
 *   2. restoration (--restore N cases a photo, default 1): restore() of each re-saved file as the policy
 *      does it, against the same photo (crop) compressed once at the earlier quality and restored: mean
 *      RGB PSNR gain over the JPEG, against the original (target: ≥ 80 % of the single compression's);
 *   3. cost: the re-saved check (decode of the scan prefix + detection) on a 1 MP QF 95 file against a
 *      1 MP restore (target ≤ 10 %), medians.
 * Nothing is written to disk. Run with nothing else on the cores for the cost.
 *   node --import tsx bench/resaved.ts [--live1 DIR] [--train DIR | --no-train] [--per-photo 4] [--singles 6]
 *        [--restore 1] [--model DIR] [--threads N] [--no-projection] [--cost-runs 7] [--skip detect,restore,cost]
 */
import { parseArgs } from "node:util";
import sharp from "sharp";
import { psnr } from "../lib/eval/metrics.js";
import { inspectJpeg, type JpegInspection } from "../lib/jpeg/index.js";
import { closeAllModels } from "../lib/model/sessions.js";
import { checkResaved } from "../lib/restore/resaved.js";
import { restore } from "../lib/restore/restore.js";
import type { RestoreOptions } from "../lib/restore/types.js";
import { jpegOf } from "../tests/unit/resave-tools.js";
import { loadPhotos, type Photo, type ResavedCase, resavedCases, singleCases } from "./resaved-set.js";

const { values } = parseArgs({
  options: {
    live1: { type: "string", default: "/work/shared/data/bench/LIVE1" },
    train: { type: "string", default: "/work/shared/data/train" },
    "no-train": { type: "boolean" },
    "per-photo": { type: "string", default: "4" },
    singles: { type: "string", default: "6" },
    restore: { type: "string", default: "1" },
    model: { type: "string" },
    threads: { type: "string" },
    "no-projection": { type: "boolean" },
    "cost-runs": { type: "string", default: "7" },
    skip: { type: "string", default: "" },
    limit: { type: "string", default: "1000" },
  },
});
const skip = new Set(values.skip.split(","));
const MAX_PIXELS = 50_000_000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (n: number, d: number) => `${((100 * n) / Math.max(1, d)).toFixed(1)} %`;
const inspect = (bytes: Uint8Array) => inspectJpeg(bytes, { fileSize: bytes.length }) as JpegInspection;
const check = (bytes: Uint8Array) => {
  const found = checkResaved(bytes, inspect(bytes), bytes.length, MAX_PIXELS);
  return found.status === "checked" ? found.recompressed : null;
};

const photos = await loadPhotos(
  values.live1,
  values["no-train"] ? undefined : values.train,
  Number(values.limit),
);
process.stdout.write(
  `${photos.length} photos (${photos.filter((p) => p.name.startsWith("LIVE1")).length} LIVE1)\n\n`,
);

// 1. Detection.
const resavedSet = await resavedCases(photos, Number(values["per-photo"]), 17);
if (!skip.has("detect")) {
  const rows = ["5-9", "10-14", "15-19", "20-24", "25-30"];
  const columns = ["none", "1-4", "5-9", "10-14", "15-19", "20-24", "25-30", "31-40", "41+"];
  const binOf = (q: number, edges: number[]) => edges.findIndex((e) => q <= e);
  const table = rows.map(() => new Array<number>(columns.length).fill(0));
  const tally = new Map<string, { n: number; ok: number }>();
  let ok = 0;
  for (const c of resavedSet) {
    const found = check(c.bytes);
    const row = binOf(c.earlier, [9, 14, 19, 24, 30]);
    table[row]![found === null ? 0 : 1 + binOf(found.quality, [4, 9, 14, 19, 24, 30, 40, 100])]!++;
    const good =
      found !== null &&
      found.offset[0] === c.shift[0] % 8 &&
      found.offset[1] === c.shift[1] % 8 &&
      Math.abs(found.quality - c.earlier) <= 5;
    ok += good ? 1 : 0;
    for (const key of [c.shift[0] === 0 && c.shift[1] === 0 ? "aligned" : "shifted", `later ${c.sampling}`]) {
      const t = tally.get(key) ?? { n: 0, ok: 0 };
      tally.set(key, { n: t.n + 1, ok: t.ok + (good ? 1 : 0) });
    }
    if (!good) {
      const what =
        found === null ? "none" : `${found.quality} @${found.offset.join(",")} (${found.confidence})`;
      process.stdout.write(
        `  missed: ${c.photo} QF ${c.earlier} → ${c.later} ${c.sampling} shift ${c.shift.join(",")}: ${what}\n`,
      );
    }
  }
  process.stdout.write(
    `\nRe-saved files: ${resavedSet.length}; found with the earlier quality within ±5 and the right grid: ${ok} (${pct(ok, resavedSet.length)})\n`,
  );
  for (const [key, t] of tally) process.stdout.write(`  ${key}: ${t.ok}/${t.n} (${pct(t.ok, t.n)})\n`);
  process.stdout.write(`\nConfusion: true earlier QF (rows) against the quality found (columns)\n\n`);
  process.stdout.write(
    `| earlier QF | ${columns.join(" | ")} |\n|---|${columns.map(() => "---:").join("|")}|\n`,
  );
  for (const [i, r] of rows.entries()) process.stdout.write(`| ${r} | ${table[i]!.join(" | ")} |\n`);

  const singles = await singleCases(photos, Number(values.singles), 18);
  const byQuality = new Map<number, { n: number; found: number }>();
  for (const c of singles) {
    const found = check(c.bytes);
    const t = byQuality.get(c.quality) ?? { n: 0, found: 0 };
    byQuality.set(c.quality, { n: t.n + 1, found: t.found + (found === null ? 0 : 1) });
    if (found !== null)
      process.stdout.write(
        `  false: ${c.photo} QF ${c.quality} ${c.sampling}: ${found.quality} @${found.offset.join(",")}\n`,
      );
  }
  const falses = [...byQuality.values()].reduce((s, t) => s + t.found, 0);
  process.stdout.write(
    `\nSingle compressions QF 85..98: ${singles.length}; false detections ${falses} (${pct(falses, singles.length)})\n\n`,
  );
  const qs = [...byQuality.keys()].sort((a, b) => a - b);
  process.stdout.write(`| QF | ${qs.join(" | ")} |\n|---|${qs.map(() => "---:").join("|")}|\n`);
  process.stdout.write(`| files | ${qs.map((q) => byQuality.get(q)!.n).join(" | ")} |\n`);
  process.stdout.write(`| false | ${qs.map((q) => byQuality.get(q)!.found).join(" | ")} |\n\n`);
}

// 2. Restoration.
const restoreOptions: RestoreOptions = {
  format: "png",
  modelDir: values.model,
  threads: values.threads === undefined ? undefined : Number(values.threads),
  ...(values["no-projection"] ? { projection: false } : {}),
};

async function rgbOf(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await sharp(bytes).removeAlpha().toColourspace("srgb").raw().toBuffer());
}

/** PSNR of the JPEG and of its restoration against `reference`; null when restore() skipped it. */
async function gains(
  bytes: Uint8Array,
  reference: Photo,
  extra: RestoreOptions = {},
): Promise<{ jpeg: number; restored: number } | null> {
  const outcome = await restore(bytes, { ...restoreOptions, ...extra });
  if (outcome.action !== "restored") return null;
  return {
    jpeg: psnr(reference.rgb, await rgbOf(bytes)),
    restored: psnr(reference.rgb, await rgbOf(outcome.output)),
  };
}

if (!skip.has("restore")) {
  const perPhoto = Number(values["per-photo"]);
  const chosen: ResavedCase[] = resavedSet.filter((_, i) => i % perPhoto < Number(values.restore));
  const sums = { resaved: 0, forced: 0, once: 0 };
  let n = 0;
  let skipped = 0;
  process.stdout.write(
    "| photo | earlier → later | shift | sampling | re-saved: JPEG → restored dB | forced without the check: gain | once at the earlier QF: JPEG → restored dB |\n|---|---|---|---|---|---:|---|\n",
  );
  const f = (g: { jpeg: number; restored: number }) =>
    `${g.jpeg.toFixed(2)} → ${g.restored.toFixed(2)} (${(g.restored - g.jpeg).toFixed(2)})`;
  for (const c of chosen) {
    const again = await gains(c.bytes, c.reference);
    if (again === null) {
      skipped++;
      continue;
    }
    // As before the check: forced, conditioned on the last tables, on the last grid.
    const forced = await gains(c.bytes, c.reference, { force: true, detectResaved: false });
    const once = await gains(await jpegOf(c.reference, c.earlier), c.reference);
    if (once === null || forced === null) throw new Error(`${c.photo} at QF ${c.earlier} was not restored`);
    sums.resaved += again.restored - again.jpeg;
    sums.forced += forced.restored - forced.jpeg;
    sums.once += once.restored - once.jpeg;
    n++;
    process.stdout.write(
      `| ${c.photo} | ${c.earlier} → ${c.later} | ${c.shift.join(",")} | ${c.sampling} | ${f(again)} | ${(forced.restored - forced.jpeg).toFixed(2)} | ${f(once)} |\n`,
    );
  }
  const [a, b, c] = [sums.resaved, sums.once, sums.forced].map((g) => g / Math.max(1, n)) as [
    number,
    number,
    number,
  ];
  process.stdout.write(
    `\nRestoration (${n} detected files${skipped > 0 ? `, ${skipped} not detected and skipped` : ""}, model ${values.model ?? "shipped"}${values["no-projection"] ? ", no projection" : ""}): mean RGB PSNR gain ${a.toFixed(3)} dB re-saved, ${b.toFixed(3)} dB compressed once at the earlier quality: ${pct(a, b)} of it (forced without the check: ${c.toFixed(3)} dB, ${pct(c, b)})\n\n`,
  );
}

/** Median wall and CPU (this process, all threads) milliseconds of `count` calls after `warm` more. */
async function timed(f: () => unknown, count: number, warm: number): Promise<{ wall: number; cpu: number }> {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < count + warm; i++) {
    const [start, usage] = [performance.now(), process.cpuUsage()];
    await f();
    const spent = process.cpuUsage(usage);
    if (i < warm) continue;
    wall.push(performance.now() - start);
    cpu.push((spent.user + spent.system) / 1000);
  }
  return { wall: median(wall), cpu: median(cpu) };
}

// 3. Cost.
if (!skip.has("cost")) {
  const runs = Number(values["cost-runs"]);
  const base = photos[0]!;
  const picture = await sharp(base.rgb, { raw: { width: base.width, height: base.height, channels: 3 } })
    .resize(1152, 864, { fit: "cover" })
    .raw()
    .toBuffer();
  const mp: Photo = { name: "1 MP", width: 1152, height: 864, rgb: new Uint8Array(picture) };
  const high = await jpegOf(mp, 95);
  const low = await jpegOf(mp, 20);
  const again = (await resavedCases([mp], 1, 5))[0]!.bytes;
  const restores = Math.max(3, Math.ceil(runs / 2));
  const checkSingle = await timed(() => check(high), runs, 2);
  const checkAgain = await timed(() => check(again), runs, 2);
  const restored = await timed(() => restore(low, { ...restoreOptions, format: "jpeg" }), restores, 1);
  const row = (what: string, t: { wall: number; cpu: number }) =>
    `| ${what} | ${t.wall.toFixed(1)} | ${t.cpu.toFixed(1)} | ${pct(t.wall, restored.wall)} | ${pct(t.cpu, restored.cpu)} |\n`;
  process.stdout.write(
    `Cost at 1152×864, medians of ${runs} checks and ${restores} restores:\n\n| | wall ms | CPU ms | of a restore (wall) | (CPU) |\n|---|---:|---:|---:|---:|\n${row("the check, QF 95 file (none found)", checkSingle)}${row("the check, re-saved file (QF 5..30 → 90..95)", checkAgain)}${row("restore (QF 20 source, JPEG out)", restored)}`,
  );
}
await closeAllModels();
