/**
 * The bytes a derivative costs against the restoration it keeps, for every rung of the JPEG ladders that
 * `--quality auto` walks (lib/image/choose-encoding.ts laddersFor: mozjpeg's flat table at each step,
 * 4:2:0 and 4:4:4), with and without trellis quantisation: each ground-truth image is compressed at each
 * quality (libjpeg standard tables, 4:2:0, as `unjpeg eval`), restored losslessly, and every rung encoded
 * whole. Per quality and rung it prints the total bytes over the source JPEGs' and the mean share of the
 * PSNR gain kept (as `unjpeg eval`); then what `--quality auto`'s rule would choose on the whole images
 * for each transfer in `--transfers` (a model's `encodeErrorTransfer`: pick the lowest that keeps
 * `--keep` of the gain on average at every quality, on a training set, and check it on LIVE1 with
 * `unjpeg eval`). `--out FILE` writes every measurement (NDJSON). `--tables 2,3,4` adds mozjpeg's other
 * quantisation tables (qualities 50..98 by 2), `--trellis no,yes` trellis quantisation.
 *   node --import tsx bench/encode-curve.ts --set DIR [--qualities 10,40] [--limit N] [--model DIR] [--out FILE] [--keep 0.9] [--transfers 0.5,0.55,0.6,0.65,0.7] [--tables LIST] [--trellis no,yes]
 */
import { writeFile } from "node:fs/promises";
import { relative } from "node:path";
import { parseArgs } from "node:util";
import sharp from "sharp";
import { compressStandard, listImages, loadGroundTruth } from "../lib/eval/evaluate.js";
import { mse } from "../lib/eval/metrics.js";
import { allowedError, laddersFor } from "../lib/image/choose-encoding.js";
import { decodeImage } from "../lib/image/decode.js";
import { describeSetting, type EncoderSetting, jpegOptions } from "../lib/image/encoder-setting.js";
import { restore } from "../lib/restore/restore.js";

const { values } = parseArgs({
  options: {
    set: { type: "string" },
    qualities: { type: "string", default: "10,40" },
    limit: { type: "string" },
    model: { type: "string" },
    out: { type: "string" },
    /** mozjpeg quantisation tables to walk besides the flat one (`--quality auto`'s): e.g. 2,3,4. */
    tables: { type: "string", default: "" },
    trellis: { type: "string", default: "no" },
    keep: { type: "string", default: "0.9" },
    transfers: { type: "string", default: "0.5,0.55,0.6,0.65,0.7" },
  },
});
if (values.set === undefined) {
  process.stderr.write(
    "usage: bench/encode-curve.ts --set DIR [--qualities 10,40] [--limit N] [--out FILE]\n",
  );
  process.exit(2);
}
const big = { maxPixels: Number.MAX_SAFE_INTEGER, maxBytes: Number.MAX_SAFE_INTEGER };
const psnr = (e: number) => 10 * Math.log10((255 * 255) / e);

interface Point {
  image: string;
  quality: number;
  setting: string;
  trellis: boolean;
  jpegBytes: number;
  bytes: number;
  /** Mean squared errors: JPEG, restoration and derivative against the truth; the restoration's change; the encoding's. */
  jpeg: number;
  restored: number;
  derivative: number;
  change: number;
  encoding: number;
}

async function measure(
  restored: Uint8Array,
  size: { width: number; height: number },
  setting: EncoderSetting,
  trellis: boolean,
  table: number,
): Promise<{ bytes: number; back: Uint8Array }> {
  const encoded = await sharp(restored, { raw: { ...size, channels: 3 } })
    .jpeg({
      ...jpegOptions(setting),
      ...(table === 1 ? {} : { quantisationTable: table }),
      ...(trellis ? { trellisQuantisation: true } : {}),
    })
    .toBuffer();
  const back = await sharp(encoded).removeAlpha().raw().toBuffer();
  return { bytes: encoded.length, back: new Uint8Array(back.buffer, back.byteOffset, back.length) };
}

const trellisModes = values.trellis.split(",").map((t) => t === "yes");
/** The flat ladders, then each other table's qualities 50..98 in steps of 2, 4:2:0 and 4:4:4. */
function rungs(): [number, EncoderSetting][] {
  const out: [number, EncoderSetting][] = laddersFor("jpeg", false).flatMap((ladder) =>
    ladder.map((setting): [number, EncoderSetting] => [1, setting]),
  );
  for (const table of values.tables
    .split(",")
    .filter((t) => t !== "")
    .map(Number))
    for (const chroma of ["4:2:0", "4:4:4"] as const)
      for (let quality = 50; quality <= 98; quality += 2)
        out.push([table, { format: "jpeg", quality, chroma, progressive: true }]);
  return out;
}

const files = (await listImages(values.set)).slice(
  0,
  values.limit === undefined ? undefined : Number(values.limit),
);
const points: Point[] = [];
for (const file of files) {
  const gt = await loadGroundTruth(file, relative(values.set, file));
  if (gt.grey) continue;
  const size = { width: gt.width, height: gt.height };
  for (const quality of values.qualities.split(",").map(Number)) {
    const jpegBytes = await compressStandard(gt, quality);
    const decoded = (await decodeImage(jpegBytes, big)).rgb;
    const outcome = await restore(jpegBytes, { force: true, format: "png", modelDir: values.model, ...big });
    if (outcome.action !== "restored") continue;
    const restored = (await decodeImage(outcome.output, big)).rgb;
    const base = {
      image: gt.name,
      quality,
      jpegBytes: jpegBytes.length,
      jpeg: mse(gt.rgb, decoded),
      restored: mse(gt.rgb, restored),
      change: mse(restored, decoded),
    };
    for (const [table, setting] of rungs())
      for (const trellis of trellisModes) {
        const { bytes, back } = await measure(restored, size, setting, trellis, table);
        points.push({
          ...base,
          setting: `${describeSetting(setting)}${table === 1 ? "" : ` t${table}`}`,
          trellis,
          bytes,
          derivative: mse(gt.rgb, back),
          encoding: mse(restored, back),
        });
      }
    process.stderr.write(`${gt.name} QF ${quality}\n`);
  }
}
if (values.out !== undefined) await writeFile(values.out, points.map((p) => JSON.stringify(p)).join("\n"));

const rows: string[][] = [];
const groups = new Map<string, Point[]>();
for (const p of points) {
  const key = `${p.quality}\u0000${p.setting}\u0000${p.trellis}`;
  groups.set(key, [...(groups.get(key) ?? []), p]);
}
for (const group of groups.values()) {
  const { quality, setting, trellis } = group[0]!;
  const gained = group.filter((p) => p.restored < p.jpeg);
  const kept =
    gained.reduce((s, p) => s + (psnr(p.derivative) - psnr(p.jpeg)) / (psnr(p.restored) - psnr(p.jpeg)), 0) /
    gained.length;
  const ratio = group.reduce((s, p) => s + p.bytes, 0) / group.reduce((s, p) => s + p.jpegBytes, 0);
  rows.push([
    String(quality),
    setting,
    trellis ? "yes" : "no",
    `${ratio.toFixed(2)}×`,
    `${(100 * kept).toFixed(1)} %`,
  ]);
}
const head = ["QF", "setting", "trellis", "bytes/JPEG", "gain kept"];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i]!)).join("  ");
process.stdout.write(
  `set ${values.set} (${files.length} images), every rung encoded whole\n${[line(head), ...rows.map(line)].join("\n")}\n`,
);

/** The rule on whole images: per image and quality, the fewest bytes whose encoding error is allowed. */
const keepGain = Number(values.keep);
const rule: string[][] = [];
const byImage = new Map<string, Point[]>();
for (const p of points.filter((p) => !p.trellis && !/ t\d$/.test(p.setting))) {
  const key = `${p.image}\u0000${p.quality}`;
  byImage.set(key, [...(byImage.get(key) ?? []), p]);
}
for (const quality of values.qualities.split(",").map(Number))
  for (const transfer of values.transfers.split(",").map(Number)) {
    const chosen = [...byImage.values()]
      .filter((g) => g[0]!.quality === quality)
      .map((g) => {
        const allowed = allowedError(g[0]!.change, keepGain, transfer);
        const meets = g.filter((p) => p.encoding <= allowed);
        const pool = meets.length > 0 ? meets : [g.reduce((a, b) => (b.encoding < a.encoding ? b : a))];
        return pool.reduce((a, b) => (b.bytes < a.bytes ? b : a));
      });
    const gained = chosen.filter((p) => p.restored < p.jpeg);
    const kept =
      gained.reduce(
        (s, p) => s + (psnr(p.derivative) - psnr(p.jpeg)) / (psnr(p.restored) - psnr(p.jpeg)),
        0,
      ) / gained.length;
    const ratio = chosen.reduce((s, p) => s + p.bytes, 0) / chosen.reduce((s, p) => s + p.jpegBytes, 0);
    rule.push([String(quality), String(transfer), `${ratio.toFixed(2)}×`, `${(100 * kept).toFixed(1)} %`]);
  }
const ruleHead = ["QF", "transfer", "bytes/JPEG", "gain kept"];
const ruleWidths = ruleHead.map((h, i) => Math.max(h.length, ...rule.map((r) => r[i]!.length)));
process.stdout.write(
  `the rule (keep ${keepGain}, flat JPEG ladders without trellis) on the whole images, per transfer:\n${[ruleHead, ...rule].map((cells) => cells.map((c, i) => c.padStart(ruleWidths[i]!)).join("  ")).join("\n")}\n`,
);
