/**
 * Test support: re-saved JPEGs made with sharp, as issue 17 describes them: a picture compressed hard,
 * decoded, cropped by a few pixels at the top and left (which shifts the block grid), saved again at a
 * high quality.
 */
import sharp from "sharp";
import { photoLikePpm } from "./jpeg-tools.js";

export interface Picture {
  readonly width: number;
  readonly height: number;
  /** Interleaved 8-bit RGB. */
  readonly rgb: Uint8Array;
}

/** A photo-like picture (shading, an edge, texture; tests/unit/jpeg-tools.ts). */
export function photoLike(width: number, height: number, seed = 3): Picture {
  const ppm = photoLikePpm(width, height, seed);
  return { width, height, rgb: new Uint8Array(ppm.subarray(ppm.length - width * height * 3)) };
}

export function jpegOf(
  picture: Picture,
  quality: number,
  chroma: "4:2:0" | "4:4:4" = "4:2:0",
  progressive = false,
): Promise<Buffer> {
  return sharp(picture.rgb, { raw: { width: picture.width, height: picture.height, channels: 3 } })
    .jpeg({ quality, chromaSubsampling: chroma, progressive, mozjpeg: false, trellisQuantisation: false })
    .toBuffer();
}

export async function decodeRgb(bytes: Uint8Array): Promise<Picture> {
  const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, rgb: new Uint8Array(data) };
}

/** Rows from `oy` and columns from `ox` on. */
export function cropTopLeft(picture: Picture, oy: number, ox: number): Picture {
  const width = picture.width - ox;
  const height = picture.height - oy;
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const from = ((y + oy) * picture.width + ox) * 3;
    rgb.set(picture.rgb.subarray(from, from + width * 3), y * width * 3);
  }
  return { width, height, rgb };
}

/** `picture` at IJG quality `earlier` (4:2:0), cropped by `shift`, saved again at `later`. */
export async function resaved(
  picture: Picture,
  earlier: number,
  later: number,
  shift: readonly [number, number] = [0, 0],
  chroma: "4:2:0" | "4:4:4" = "4:2:0",
  progressive = false,
): Promise<Buffer> {
  const first = await decodeRgb(await jpegOf(picture, earlier));
  return jpegOf(cropTopLeft(first, shift[0], shift[1]), later, chroma, progressive);
}
