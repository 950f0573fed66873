/**
 * Makes docs/before-after.png for the README: a crop of scikit-image's "astronaut" (NASA, public domain;
 * shipped in Debian's python3-skimage and part of the training pool, so this shows the method, it is not
 * an evaluation) compressed at each quality (a row each: 1, where CODiff's demos live, and 10 by default),
 * restored by the shipped model, and the original, side by side, enlarged 2x without smoothing.
 * Usage: node --import tsx docs/make-before-after.ts SOURCE.png [QUALITY ...]
 */
import { writeFile } from "node:fs/promises";
import sharp from "sharp";
import { restore } from "../lib/index.js";

const [source, ...given] = process.argv.slice(2);
if (source === undefined) throw new Error("usage: make-before-after.ts SOURCE.png [QUALITY ...]");
const qualities = given.length > 0 ? given.map(Number) : [1, 10];

const crop = { left: 150, top: 40, width: 200, height: 160 };
const scale = 2;
const gap = 6;
const labelHeight = 28;
const panelWidth = crop.width * scale;
const rowHeight = labelHeight + crop.height * scale;
const original = await sharp(source).extract(crop).png().toBuffer();

const panel = (bytes: Uint8Array) =>
  sharp(bytes).resize(panelWidth, crop.height * scale, { kernel: "nearest" }).png().toBuffer();
const label = (text: string) =>
  Buffer.from(
    `<svg width="${panelWidth}" height="${labelHeight}"><rect width="100%" height="100%" fill="#111"/>` +
      `<text x="8" y="19" font-family="sans-serif" font-size="15" fill="#fff">${text}</text></svg>`,
  );

/** One row: the JPEG at `quality`, its restoration and the original, each under its label. */
async function row(quality: number, top: number): Promise<sharp.OverlayOptions[]> {
  const jpeg = await sharp(original).jpeg({ quality, chromaSubsampling: "4:2:0" }).toBuffer();
  const outcome = await restore(jpeg, { force: true, format: "png" });
  if (outcome.action !== "restored") throw new Error(`not restored: ${outcome.reason}`);
  const titles = [
    `JPEG quality ${quality} (${jpeg.length} bytes)`,
    `restored (${outcome.description.model})`,
    "original",
  ];
  const panels = await Promise.all([panel(jpeg), panel(outcome.output), panel(original)]);
  return panels.flatMap((input, i) => [
    { input: label(titles[i]!), left: i * (panelWidth + gap), top },
    { input, left: i * (panelWidth + gap), top: top + labelHeight },
  ]);
}

const layers: sharp.OverlayOptions[] = [];
for (const [k, quality] of qualities.entries()) layers.push(...(await row(quality, k * (rowHeight + gap))));
const width = 3 * panelWidth + 2 * gap;
const height = qualities.length * rowHeight + (qualities.length - 1) * gap;
const image = await sharp({ create: { width, height, channels: 3, background: "#fff" } })
  .composite(layers)
  .png({ compressionLevel: 9 })
  .toBuffer();
await writeFile(new URL("./before-after.png", import.meta.url), image);
console.log(`docs/before-after.png: ${width}×${height}, ${image.length} bytes`);
