/**
 * The re-saved set of issue 17, generated in memory (never written): photos compressed hard (IJG QF 5..30,
 * 4:2:0), decoded, cropped by (oy, ox) ∈ 0..7 at the top and left (a shift of the block grid; 0 keeps it
 * aligned), and saved again at QF 90..95 with 4:2:0 or 4:4:4 chroma, exactly as models/training/data.py
 * `resaved()` makes its pairs; and the same photos compressed once at QF 85..98 (the false-positive set).
 * The making is tests/unit/resave-tools.ts's, which the tests use too. Photos: LIVE1 and the training pool's held-out images (every 40th from index 7 of the pool as
 * models/training/train.py builds it: sorted paths, sides of at least 144 px), which no model trained on.
 * Every choice comes from a seeded generator, so a run is repeatable.
 */
import { readdirSync } from "node:fs";
import { extname, join, relative, sep } from "node:path";
import sharp from "sharp";
import { IMAGE_EXTENSIONS, loadGroundTruth } from "../lib/eval/evaluate.js";
import { cropTopLeft, jpegOf, resaved } from "../tests/unit/resave-tools.js";

export interface Photo {
  readonly name: string;
  readonly width: number;
  readonly height: number;
  /** Interleaved 8-bit RGB. */
  readonly rgb: Uint8Array;
}

export interface ResavedCase {
  readonly photo: string;
  readonly earlier: number;
  readonly later: number;
  /** The crop before the re-save: the padding that puts the earlier grid back at the origin. */
  readonly shift: readonly [oy: number, ox: number];
  readonly sampling: "4:2:0" | "4:4:4";
  /** The re-saved file. */
  readonly bytes: Buffer;
  /** The photo's pixels the re-saved file shows (cropped likewise). */
  readonly reference: Photo;
}

export interface SingleCase {
  readonly photo: string;
  readonly quality: number;
  readonly sampling: "4:2:0" | "4:4:4";
  readonly bytes: Buffer;
}

/** A small deterministic generator (LCG), uniform in [0, 1). */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const pick = (next: () => number, lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));

function sortedImages(dir: string): string[] {
  const files = readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase()))
    .map((e) => join(e.parentPath, e.name));
  // Python sorts pathlib paths by their parts.
  const parts = (p: string) => relative(dir, p).split(sep);
  return files.sort((a, b) => {
    const [x, y] = [parts(a), parts(b)];
    for (let i = 0; i < Math.min(x.length, y.length); i++) {
      if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1;
    }
    return x.length - y.length;
  });
}

/** LIVE1's photos, then the training pool's held-out ones; `limit` photos at most. */
export async function loadPhotos(live1: string, train: string | undefined, limit: number): Promise<Photo[]> {
  const paths = sortedImages(live1);
  if (train !== undefined) {
    const pool: string[] = [];
    for (const path of sortedImages(train)) {
      const meta = await sharp(path).metadata();
      if (Math.min(meta.width ?? 0, meta.height ?? 0) >= 144) pool.push(path);
    }
    paths.push(...pool.filter((_, i) => i % 40 === 7));
  }
  const photos: Photo[] = [];
  for (const path of paths.slice(0, limit)) {
    const gt = await loadGroundTruth(path, relative(join(path, "../.."), path));
    photos.push({ name: gt.name, width: gt.width, height: gt.height, rgb: gt.rgb });
  }
  return photos;
}

/** Photo compressed at `earlier` (4:2:0), cropped by `shift`, saved again at `later`. */
export async function resave(
  photo: Photo,
  earlier: number,
  later: number,
  shift: readonly [number, number],
  sampling: "4:2:0" | "4:4:4",
): Promise<ResavedCase> {
  const bytes = await resaved(photo, earlier, later, shift, sampling);
  const reference = { name: photo.name, ...cropTopLeft(photo, shift[0], shift[1]) };
  return { photo: photo.name, earlier, later, shift, sampling, bytes, reference };
}

/** `perPhoto` re-saved cases of each photo, earlier QF 5..30, later 90..95, any shift (1 in 4 aligned). */
export async function resavedCases(photos: Photo[], perPhoto: number, seed: number): Promise<ResavedCase[]> {
  const next = random(seed);
  const cases: ResavedCase[] = [];
  for (const photo of photos) {
    for (let k = 0; k < perPhoto; k++) {
      const aligned = next() < 0.25;
      const shift: [number, number] = aligned ? [0, 0] : [pick(next, 0, 7), pick(next, 0, 7)];
      const sampling = next() < 0.5 ? "4:2:0" : "4:4:4";
      cases.push(await resave(photo, pick(next, 5, 30), pick(next, 90, 95), shift, sampling));
    }
  }
  return cases;
}

/** `perPhoto` single compressions of each photo at QF 85..98. */
export async function singleCases(photos: Photo[], perPhoto: number, seed: number): Promise<SingleCase[]> {
  const next = random(seed);
  const cases: SingleCase[] = [];
  for (const photo of photos) {
    for (let k = 0; k < perPhoto; k++) {
      const quality = pick(next, 85, 98);
      const sampling = next() < 0.5 ? "4:2:0" : "4:4:4";
      cases.push({ photo: photo.name, quality, sampling, bytes: await jpegOf(photo, quality, sampling) });
    }
  }
  return cases;
}
