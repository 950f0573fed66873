/**
 * How well the quality search's sample of tiles (lib/image/sample-tiles.ts) predicts the whole image:
 * each ground-truth image is compressed at each quality (libjpeg standard tables, 4:2:0, as `unjpeg eval`),
 * restored with the model (lossless), and the encoder setting is chosen twice: on the sample (what
 * restore() does) and on the whole image (the reference). Per sample size it prints how often the two
 * choices agree, the sample choice's bytes against the whole-image choice's, how often the sample's choice
 * also meets the allowance on the whole image, how far the sample's error is from the whole image's for
 * the same setting (mean |log ratio|), and the search's time.
 *   node --import tsx bench/encode-sample.ts --set DIR [--qualities 10,40] [--limit N] [--samples default,65536,262144] [--format jpeg] [--keep 0.9] [--model DIR]
 */
import { relative } from "node:path";
import { parseArgs } from "node:util";
import sharp from "sharp";
import type { OutputFormat } from "../lib/config.js";
import { compressStandard, listImages, loadGroundTruth } from "../lib/eval/evaluate.js";
import { chooseEncoding, samplePixels } from "../lib/image/choose-encoding.js";
import { decodeImage } from "../lib/image/decode.js";
import { describeSetting, withEncoder } from "../lib/image/encoder-setting.js";
import { meanSquaredError } from "../lib/image/sample-tiles.js";
import { shippedModelDir } from "../lib/model/default-model.js";
import { loadModelFolder } from "../lib/model/manifest.js";
import { restore } from "../lib/restore/restore.js";

const { values } = parseArgs({
  options: {
    set: { type: "string" },
    qualities: { type: "string", default: "10,40" },
    limit: { type: "string" },
    samples: { type: "string", default: "default,65536,262144" },
    format: { type: "string", default: "jpeg" },
    keep: { type: "string", default: "0.9" },
    model: { type: "string" },
  },
});
if (values.set === undefined) {
  process.stderr.write(
    "usage: bench/encode-sample.ts --set DIR [--qualities 10,40] [--limit N] [--samples default,65536] ...\n",
  );
  process.exit(2);
}
const format = values.format as Exclude<OutputFormat, "png">;
const keepGain = Number(values.keep);
const modelDir = values.model ?? shippedModelDir();
const errorTransfer = (await loadModelFolder(modelDir)).manifest.encodeErrorTransfer;
const sizes = values.samples.split(",");

interface Tally {
  images: number;
  agree: number;
  meetsWhole: number;
  bytes: number;
  wholeBytes: number;
  logError: number;
  searchMs: number;
  samplePixels: number;
}
const tallies = new Map<string, Tally>(
  sizes.map((s) => [
    s,
    {
      images: 0,
      agree: 0,
      meetsWhole: 0,
      bytes: 0,
      wholeBytes: 0,
      logError: 0,
      searchMs: 0,
      samplePixels: 0,
    },
  ]),
);

/** The setting's whole-image bytes and error against the restoration. */
async function whole(
  rgb: Uint8Array,
  width: number,
  height: number,
  setting: Parameters<typeof withEncoder>[1],
) {
  const encoded = await withEncoder(sharp(rgb, { raw: { width, height, channels: 3 } }), setting).toBuffer();
  const back = await sharp(encoded).removeAlpha().raw().toBuffer();
  return { bytes: encoded.length, error: meanSquaredError(rgb, back) };
}

const files = (await listImages(values.set)).slice(
  0,
  values.limit === undefined ? undefined : Number(values.limit),
);
for (const file of files) {
  const gt = await loadGroundTruth(file, relative(values.set, file));
  if (gt.grey) continue;
  for (const quality of values.qualities.split(",").map(Number)) {
    const jpeg = await compressStandard(gt, quality);
    const decoded = await decodeImage(jpeg, { maxPixels: 1e12, maxBytes: 1e12 });
    const outcome = await restore(jpeg, {
      force: true,
      format: "png",
      modelDir,
      maxPixels: 1e12,
      maxBytes: 1e12,
    });
    if (outcome.action !== "restored") continue;
    const restored = (await decodeImage(outcome.output, { maxPixels: 1e12, maxBytes: 1e12 })).rgb;
    const { width, height } = gt;
    const options = { format, keepGain, errorTransfer, grey: false } as const;
    const reference = await chooseEncoding(restored, decoded.rgb, width, height, {
      ...options,
      samplePixels: Number.POSITIVE_INFINITY,
    });
    const referenceWhole = await whole(restored, width, height, reference.setting);
    const picks: string[] = [];
    for (const size of sizes) {
      const started = performance.now();
      const choice = await chooseEncoding(restored, decoded.rgb, width, height, {
        ...options,
        samplePixels: size === "default" ? samplePixels(width * height) : Number(size),
      });
      const searchMs = performance.now() - started;
      const got = await whole(restored, width, height, choice.setting);
      const tally = tallies.get(size)!;
      tally.images++;
      tally.agree += describeSetting(choice.setting) === describeSetting(reference.setting) ? 1 : 0;
      tally.meetsWhole += got.error <= reference.allowed ? 1 : 0;
      tally.bytes += got.bytes;
      tally.wholeBytes += referenceWhole.bytes;
      tally.logError += choice.error === undefined ? 0 : Math.abs(Math.log(choice.error / got.error));
      tally.searchMs += searchMs;
      tally.samplePixels += choice.samplePixels / (width * height);
      picks.push(`${size}: ${describeSetting(choice.setting)} ${got.bytes} B, error ${got.error.toFixed(2)}`);
    }
    process.stderr.write(
      `${gt.name} QF ${quality} (${width}×${height}): allowed ${reference.allowed.toFixed(2)}; whole image: ${describeSetting(reference.setting)} ${referenceWhole.bytes} B, error ${referenceWhole.error.toFixed(2)}; ${picks.join("; ")}\n`,
    );
  }
}

const header = [
  "sample",
  "images",
  "sample share",
  "same setting",
  "meets on the whole",
  "bytes / whole-image choice",
  "mean |log err ratio|",
  "search ms",
];
const rows = [...tallies].map(([size, t]) => [
  size === "default" ? "default (samplePixels)" : `${size} px`,
  String(t.images),
  `${((100 * t.samplePixels) / t.images).toFixed(0)} %`,
  `${((100 * t.agree) / t.images).toFixed(0)} %`,
  `${((100 * t.meetsWhole) / t.images).toFixed(0)} %`,
  (t.bytes / t.wholeBytes).toFixed(3),
  (t.logError / t.images).toFixed(3),
  (t.searchMs / t.images).toFixed(0),
]);
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i]!)).join("  ");
process.stdout.write(
  `${format}, keep ${keepGain}, error transfer ${errorTransfer}, set ${values.set} (${files.length} images), qualities ${values.qualities}\n${[line(header), ...rows.map(line)].join("\n")}\n`,
);
