/**
 * How fast `inspectJpeg` answers, and how many bytes it needs, on camera-like 12 MP JPEGs: an EXIF APP1
 * with a maker note and an embedded thumbnail (which has its own tables), an ICC profile in APP2.
 * Targets (issue 2): ≥ 20,000 files/s in process, ≤ 64 KiB read per file.
 *   node --import tsx bench/inspect.ts [--files N] [--seconds S] [--rounds R] [--keep DIR]   (--keep: leave the files in DIR)
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import sharp from "sharp";
import { inspectFile } from "../lib/cli/inspect.js";
import { inspectJpeg } from "../lib/jpeg/index.js";

const { values } = parseArgs({
  options: {
    files: { type: "string", default: "4" },
    seconds: { type: "string", default: "1" },
    rounds: { type: "string", default: "5" },
    keep: { type: "string" },
  },
});
const FILE_COUNT = Number(values.files);
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const WIDTH = 4000;
const HEIGHT = 3000;

interface IfdEntry {
  tag: number;
  type: 2 | 3 | 4 | 7; // ASCII, SHORT, LONG, UNDEFINED
  value: number | Buffer; // numbers for SHORT/LONG; bytes for ASCII/UNDEFINED
}

const entryData = (e: IfdEntry): Buffer | undefined =>
  typeof e.value === "number" || e.value.length <= 4 ? undefined : e.value;
const ifdSize = (entries: IfdEntry[]): number =>
  2 + 12 * entries.length + 4 + entries.reduce((n, e) => n + (entryData(e)?.length ?? 0), 0);

/** One little-endian TIFF IFD at `at`, its out-of-line values right after it. */
function ifd(at: number, entries: IfdEntry[], next: number): Buffer {
  const head = Buffer.alloc(2 + 12 * entries.length + 4);
  const data: Buffer[] = [];
  let dataAt = at + head.length;
  head.writeUInt16LE(entries.length, 0);
  entries.forEach((e, i) => {
    const p = 2 + 12 * i;
    head.writeUInt16LE(e.tag, p);
    head.writeUInt16LE(e.type, p + 2);
    if (typeof e.value === "number") {
      head.writeUInt32LE(1, p + 4);
      if (e.type === 3) head.writeUInt16LE(e.value, p + 8);
      else head.writeUInt32LE(e.value, p + 8);
      return;
    }
    head.writeUInt32LE(e.value.length, p + 4);
    const out = entryData(e);
    if (out === undefined) e.value.copy(head, p + 8);
    else {
      head.writeUInt32LE(dataAt, p + 8);
      data.push(out);
      dataAt += out.length;
    }
  });
  head.writeUInt32LE(next, head.length - 4);
  return Buffer.concat([head, ...data]);
}

/** APP1 "Exif": IFD0 (make, model, orientation), Exif IFD (date, maker note), IFD1 (the thumbnail). */
function exifSegment(thumbnail: Buffer, makerNoteBytes: number, seed: number): Buffer {
  const ascii = (s: string) => Buffer.from(`${s}\0`, "latin1");
  const makerNote = Buffer.alloc(makerNoteBytes);
  for (let i = 0; i < makerNote.length; i++) makerNote[i] = (i * 2654435761 + seed) >>> 24;
  const exif: IfdEntry[] = [
    { tag: 0x9003, type: 2, value: ascii("2026:11:29 00:00:00") },
    { tag: 0x927c, type: 7, value: makerNote },
  ];
  const ifd0: IfdEntry[] = [
    { tag: 0x010f, type: 2, value: ascii("unjpeg bench camera") },
    { tag: 0x0110, type: 2, value: ascii("Model 12MP") },
    { tag: 0x0112, type: 3, value: 1 },
    { tag: 0x8769, type: 4, value: 0 }, // Exif IFD offset, set below
  ];
  const ifd0At = 8;
  const exifAt = ifd0At + ifdSize(ifd0);
  const ifd1At = exifAt + ifdSize(exif);
  ifd0[3]!.value = exifAt;
  const ifd1: IfdEntry[] = [
    { tag: 0x0103, type: 3, value: 6 },
    { tag: 0x0201, type: 4, value: 0 },
    { tag: 0x0202, type: 4, value: thumbnail.length },
  ];
  ifd1[1]!.value = ifd1At + ifdSize(ifd1);
  const tiff = Buffer.concat([
    Buffer.from([0x49, 0x49, 0x2a, 0x00, ifd0At, 0, 0, 0]),
    ifd(ifd0At, ifd0, ifd1At),
    ifd(exifAt, exif, 0),
    ifd(ifd1At, ifd1, 0),
    thumbnail,
  ]);
  const payload = Buffer.concat([Buffer.from("Exif\0\0", "latin1"), tiff]);
  if (payload.length > 65533) throw new RangeError(`EXIF too large for one APP1: ${payload.length}`);
  const head = Buffer.from([0xff, 0xe1, 0, 0]);
  head.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([head, payload]);
}

async function cameraLikeJpeg(index: number): Promise<Buffer> {
  const quality = [92, 85, 75, 60][index % 4]!;
  const image = sharp({
    create: {
      width: WIDTH,
      height: HEIGHT,
      channels: 3,
      background: "#808080",
      noise: { type: "gaussian", mean: 128, sigma: 40 },
    },
  });
  // The fourth file has mozjpeg's table set 3 (not IJG-scaled), as many cameras' tables are not.
  const quantisationTable = index % 4 === 3 ? 3 : 0;
  const main = await image
    .clone()
    .blur(1.2)
    .withIccProfile("p3")
    .jpeg({ quality, quantisationTable })
    .toBuffer();
  const thumbnail = await image.clone().resize(160, 120).jpeg({ quality: 97 }).toBuffer();
  // Camera EXIF: 20..40 KiB with the thumbnail; right after SOI, as cameras write it.
  const exif = exifSegment(thumbnail, 16384 + index * 4096, index);
  return Buffer.concat([main.subarray(0, 2), exif, main.subarray(2)]);
}

/** Files per second over ROUNDS rounds of SECONDS each: the median and the best (a busy machine shows in the gap). */
async function filesPerSecond(
  run: (i: number) => unknown,
  count: number,
): Promise<{ median: number; best: number }> {
  // Warm up (JIT tiers, the estimator's tables) for half a second before measuring.
  const warming = performance.now();
  for (let i = 0; performance.now() - warming < 500; i++) await run(i % count);
  const rates: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    let done = 0;
    const started = performance.now();
    while (performance.now() - started < SECONDS * 1000) {
      for (let i = 0; i < 100; i++) await run(done++ % count);
    }
    rates.push(done / ((performance.now() - started) / 1000));
  }
  rates.sort((a, b) => a - b);
  return { median: rates[Math.floor(rates.length / 2)]!, best: rates[rates.length - 1]! };
}

const dir = values.keep ?? (await mkdtemp(join(tmpdir(), "unjpeg-bench-")));
try {
  const files: Buffer[] = [];
  const paths: string[] = [];
  for (let i = 0; i < FILE_COUNT; i++) {
    const bytes = await cameraLikeJpeg(i);
    const path = join(dir, `camera-${i}.jpg`);
    await writeFile(path, bytes);
    files.push(bytes);
    paths.push(path);
  }
  const header = files.map((f) => {
    const r = inspectJpeg(f, { fileSize: f.length });
    if (r.status !== "ok") throw new Error("bench file not inspectable");
    return r;
  });
  const prefixes = files.map((f) => f.subarray(0, 65536));
  const fileReports = await Promise.all(paths.map((p) => inspectFile(p)));
  const rows: [string, { median: number; best: number }, string][] = [
    [
      "inspectJpeg, whole file in memory",
      await filesPerSecond((i) => inspectJpeg(files[i]!, { fileSize: files[i]!.length }), files.length),
      range(header.map((h) => h.headerBytes)),
    ],
    [
      "inspectJpeg, one 64 KiB prefix (a ranged GET)",
      await filesPerSecond((i) => {
        if (inspectJpeg(prefixes[i]!).status !== "ok") throw new Error("64 KiB was not enough");
      }, files.length),
      "65536",
    ],
    [
      "inspectFile (unjpeg inspect: open, read, close)",
      await filesPerSecond((i) => inspectFile(paths[i]!), paths.length),
      range(fileReports.map((r) => (r.ok ? r.bytesRead : Number.NaN))),
    ],
  ];
  const sizes = files.map((f) => `${(f.length / 1048576).toFixed(1)} MiB`).join(", ");
  const qualities = header.map((h) => `${h.quality} ${h.match}`).join(", ");
  console.log(
    `${FILE_COUNT} files, ${WIDTH}x${HEIGHT}, ${sizes}; estimated ${qualities}; node ${process.version}`,
  );
  console.log(`${ROUNDS} rounds of ${SECONDS} s each; machine load average ${loadavg()[0]!.toFixed(1)}`);
  console.log(
    "| path | files/s median | files/s best | bytes needed / read per file |\n|---|---:|---:|---:|",
  );
  const n = (x: number) => Math.round(x).toLocaleString("en");
  for (const [name, rate, bytes] of rows)
    console.log(`| ${name} | ${n(rate.median)} | ${n(rate.best)} | ${bytes} |`);
  console.log("targets: ≥ 20,000 files/s in process; ≤ 65536 bytes read per file");
} finally {
  if (values.keep === undefined) await rm(dir, { recursive: true, force: true });
}

function range(numbers: number[]): string {
  const min = Math.min(...numbers);
  const max = Math.max(...numbers);
  return min === max ? String(min) : `${min}..${max}`;
}
