/**
 * Makes docs/before-after.png for the README: a crop of scikit-image's "astronaut" (NASA, public domain;
 * shipped in Debian's python3-skimage and part of the training pool, so this shows the method, it is not
 * an evaluation) compressed at quality 10, restored by the shipped model, and the original, side by side,
 * enlarged 2x without smoothing. Usage: node --import tsx docs/make-before-after.ts SOURCE.png
 */
import { writeFile } from "node:fs/promises";
import sharp from "sharp";
import { restore } from "../lib/index.js";

const [source] = process.argv.slice(2);
if (source === undefined) throw new Error("usage: make-before-after.ts SOURCE.png");

const crop = { left: 150, top: 40, width: 200, height: 160 };
const original = await sharp(source).extract(crop).png().toBuffer();
const jpeg = await sharp(original).jpeg({ quality: 10, chromaSubsampling: "4:2:0" }).toBuffer();
const outcome = await restore(jpeg, { force: true, format: "png" });
if (outcome.action !== "restored") throw new Error(`not restored: ${outcome.reason}`);

const scale = 2;
const panel = (bytes: Uint8Array) =>
  sharp(bytes)
    .resize(crop.width * scale, crop.height * scale, { kernel: "nearest" })
    .png()
    .toBuffer();
const label = (text: string) =>
  Buffer.from(
    `<svg width="${crop.width * scale}" height="28"><rect width="100%" height="100%" fill="#111"/>` +
      `<text x="8" y="19" font-family="sans-serif" font-size="15" fill="#fff">${text}</text></svg>`,
  );
const gap = 6;
const width = 3 * crop.width * scale + 2 * gap;
const height = crop.height * scale + 28;
const titles = [
  `JPEG quality 10 (${jpeg.length} bytes)`,
  `restored (${outcome.description.model})`,
  "original",
];
const panels = await Promise.all([panel(jpeg), panel(outcome.output), panel(original)]);
const layers = panels.flatMap((input, i) => [
  { input: label(titles[i]!), left: i * (crop.width * scale + gap), top: 0 },
  { input, left: i * (crop.width * scale + gap), top: 28 },
]);
const image = await sharp({ create: { width, height, channels: 3, background: "#fff" } })
  .composite(layers)
  .png({ compressionLevel: 9 })
  .toBuffer();
await writeFile(new URL("./before-after.png", import.meta.url), image);
console.log(`docs/before-after.png: ${width}×${height}, ${image.length} bytes`);
