import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import sharp, { type Sharp } from "sharp";
import { decodeImage, probeImage } from "../../lib/image/decode.js";
import { encodeByCompositing, encodeRestored } from "../../lib/image/encode.js";
import { ImageError } from "../../lib/image/errors.js";

function gradient(w: number, h: number): Buffer {
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      px[i] = (x * 255) / Math.max(1, w - 1);
      px[i + 1] = (y * 255) / Math.max(1, h - 1);
      px[i + 2] = (x + y) % 256;
    }
  }
  return px;
}

const jpeg = (w: number, h: number, build: (s: Sharp) => Sharp = (s) => s) =>
  build(sharp(gradient(w, h), { raw: { width: w, height: h, channels: 3 } }))
    .jpeg({ quality: 30 })
    .toBuffer();

/** The same JPEG with its APP2 ICC_PROFILE segments cut out (the stored pixels are untouched). */
function withoutIcc(jpegBytes: Buffer): Buffer {
  const parts: Buffer[] = [jpegBytes.subarray(0, 2)];
  let at = 2;
  while (jpegBytes[at] === 0xff && jpegBytes[at + 1] !== 0xda) {
    const length = jpegBytes.readUInt16BE(at + 2);
    const segment = jpegBytes.subarray(at, at + 2 + length);
    if (!(jpegBytes[at + 1] === 0xe2 && segment.subarray(4, 15).toString("latin1") === "ICC_PROFILE"))
      parts.push(segment);
    at += 2 + length;
  }
  parts.push(jpegBytes.subarray(at));
  return Buffer.concat(parts);
}

/** APP1 with a big-endian TIFF: IFD0 {Make, ExifIFD}, ExifIFD {PixelXDimension SHORT, PixelYDimension LONG}. */
function bigEndianExif(width: number, height: number): Buffer {
  const tiff = Buffer.alloc(8 + 2 + 2 * 12 + 4 + 2 + 2 * 12 + 4 + 4);
  tiff.write("MM", 0, "latin1");
  tiff.writeUInt16BE(42, 2);
  tiff.writeUInt32BE(8, 4);
  let at = 8;
  const entry = (tag: number, type: number, count: number, value: (b: Buffer, o: number) => void) => {
    tiff.writeUInt16BE(tag, at);
    tiff.writeUInt16BE(type, at + 2);
    tiff.writeUInt32BE(count, at + 4);
    value(tiff, at + 8);
    at += 12;
  };
  const exifIfd = 8 + 2 + 2 * 12 + 4;
  tiff.writeUInt16BE(2, at);
  at += 2;
  entry(0x010f, 2, 4, (b, o) => b.write("Cam\0", o, "latin1")); // Make
  entry(0x8769, 4, 1, (b, o) => b.writeUInt32BE(exifIfd, o));
  tiff.writeUInt32BE(0, at);
  at += 4;
  tiff.writeUInt16BE(2, at);
  at += 2;
  entry(0xa002, 3, 1, (b, o) => b.writeUInt16BE(width, o));
  entry(0xa003, 4, 1, (b, o) => b.writeUInt32BE(height, o));
  tiff.writeUInt32BE(0, at);
  const body = Buffer.concat([Buffer.from("Exif\0\0", "latin1"), tiff]);
  const header = Buffer.from([0xff, 0xe1, 0, 0]);
  header.writeUInt16BE(body.length + 2, 2);
  return Buffer.concat([header, body]);
}

const code = (c: string) => (e: unknown) => e instanceof ImageError && e.code === c;

describe("decodeImage", () => {
  it("decodes odd sizes to interleaved RGB", async () => {
    for (const [w, h] of [
      [1, 1],
      [7, 13],
      [333, 217],
    ] as const) {
      const { info, rgb } = await decodeImage(await jpeg(w, h));
      assert.deepEqual([info.width, info.height, info.grey, info.format], [w, h, false, "jpeg"]);
      assert.equal(rgb.length, w * h * 3);
    }
  });

  it("applies EXIF orientation 6 (the decoded image is upright, width and height swapped)", async () => {
    const bytes = await jpeg(40, 24, (s) => s.withMetadata({ orientation: 6 }));
    const { info, rgb } = await decodeImage(bytes);
    assert.equal(info.orientation, 6);
    assert.deepEqual([info.width, info.height], [24, 40]);
    // Orientation 6 = rotate 90° clockwise: the source's left column (red 0) becomes the top row.
    assert.ok(rgb[0]! < 40 && rgb[(24 - 1) * 3]! < 40, "top row comes from the source's left edge");
  });

  it("keeps grey as grey, and keeps pixel values as stored under an ICC profile", async () => {
    const grey = await sharp(gradient(20, 10), { raw: { width: 20, height: 10, channels: 3 } })
      .toColourspace("b-w")
      .jpeg()
      .toBuffer();
    const g = await decodeImage(grey);
    assert.equal(g.info.grey, true);
    for (let i = 0; i < g.rgb.length; i += 3)
      assert.ok(g.rgb[i] === g.rgb[i + 1] && g.rgb[i] === g.rgb[i + 2]);
    const tagged = await jpeg(30, 20, (s) => s.withIccProfile("p3"));
    const t = await decodeImage(tagged);
    assert.equal(t.info.hasIcc, true);
    const untagged = withoutIcc(tagged);
    assert.equal((await probeImage(untagged)).hasIcc, false);
    assert.deepEqual(t.rgb, (await decodeImage(untagged)).rgb, "no colour conversion on decode");
  });

  it("refuses CMYK and 12-bit as unsupported, and junk as invalid", async () => {
    const cmyk = await sharp(gradient(16, 16), { raw: { width: 16, height: 16, channels: 3 } })
      .toColourspace("cmyk")
      .jpeg()
      .toBuffer();
    await assert.rejects(decodeImage(cmyk), code("IMAGE_UNSUPPORTED"));
    const twelveBit = readFileSync(join(import.meta.dirname, "../fixtures/jpeg/synthetic-12bit-q85.jpg"));
    await assert.rejects(decodeImage(twelveBit), code("IMAGE_UNSUPPORTED"));
    await assert.rejects(decodeImage(Buffer.from("not an image at all")), code("IMAGE_INVALID"));
  });

  it("checks the pixel and byte limits from the headers, before decoding", async () => {
    const bytes = await jpeg(100, 100);
    await assert.rejects(probeImage(bytes, { maxPixels: 9999, maxBytes: 1e9 }), code("IMAGE_TOO_LARGE"));
    await assert.rejects(
      probeImage(bytes, { maxPixels: 1e9, maxBytes: bytes.length - 1 }),
      code("IMAGE_TOO_LARGE"),
    );
    // A header claiming 30000×30000 with almost no data: refused without an attempt to decode 900 MP.
    const bomb = Buffer.from(bytes);
    const sof = bomb.indexOf(Buffer.from([0xff, 0xc0]));
    bomb.writeUInt16BE(30000, sof + 5);
    bomb.writeUInt16BE(30000, sof + 7);
    await assert.rejects(probeImage(bomb), code("IMAGE_TOO_LARGE"));
  });
});

describe("encodeRestored", () => {
  it("writes every format with the given pixels, keeps ICC and EXIF, resets orientation, marks the output", async () => {
    const source = await jpeg(40, 24, (s) => s.withIccProfile("p3").withMetadata({ orientation: 6 }));
    const { info, rgb } = await decodeImage(source);
    for (const format of ["jpeg", "png", "webp", "avif"] as const) {
      const out = await encodeRestored(source, rgb, info.width, info.height, {
        format,
        grey: false,
        modelTag: "m@1",
      });
      const meta = await sharp(out).metadata();
      assert.equal(meta.format === "heif" ? "avif" : meta.format, format);
      assert.deepEqual([meta.width, meta.height], [24, 40]);
      assert.ok(meta.icc !== undefined, `${format}: ICC kept`);
      assert.ok((meta.orientation ?? 1) === 1, `${format}: orientation reset`);
      if (format !== "avif") assert.ok(meta.exif?.includes("unjpeg restored with m@1"), `${format}: marked`);
    }
    const png = await encodeRestored(source, rgb, info.width, info.height, {
      format: "png",
      grey: false,
      modelTag: "m@1",
    });
    const back = await sharp(png, { ignoreIcc: true }).removeAlpha().raw().toBuffer();
    assert.deepEqual(new Uint8Array(back), rgb, "lossless output carries exactly the given pixels");
  });

  it("writes grey as one channel, and JPEG as 4:4:4", async () => {
    const grey = await sharp(gradient(20, 10), { raw: { width: 20, height: 10, channels: 3 } })
      .toColourspace("b-w")
      .jpeg()
      .toBuffer();
    const { info, rgb } = await decodeImage(grey);
    const out = await encodeRestored(grey, rgb, info.width, info.height, {
      format: "jpeg",
      grey: true,
      modelTag: "m@1",
    });
    assert.equal((await sharp(out).metadata()).channels, 1);
    const colour = await jpeg(20, 10);
    const d = await decodeImage(colour);
    const c = await encodeRestored(colour, d.rgb, 20, 10, { format: "jpeg", grey: false, modelTag: "m@1" });
    assert.equal((await sharp(c).metadata()).chromaSubsampling, "4:4:4");
  });

  it("writes JPEG without decoding the source again, to the same bytes as compositing onto it", async () => {
    const exif = {
      IFD0: { Make: "Cam", Artist: "someone", Orientation: "6" },
      IFD2: { PixelXDimension: "40", PixelYDimension: "24", ExposureTime: "1/100" },
    };
    const sources = [
      await jpeg(40, 24, (s) => s.withIccProfile("p3").withExif(exif)),
      await jpeg(333, 217, (s) => s.withExif({ IFD0: { Make: "Cam" } })),
      await jpeg(1, 1),
      await sharp(gradient(20, 10), { raw: { width: 20, height: 10, channels: 3 } })
        .toColourspace("b-w")
        .jpeg()
        .toBuffer(),
    ];
    for (const [n, source] of sources.entries()) {
      const { info, rgb } = await decodeImage(source);
      // Restored-looking pixels: anything but the source's own.
      for (let i = 0; i < rgb.length; i++) rgb[i] = (rgb[i]! * 7 + i) & 255;
      const options = { format: "jpeg", grey: info.grey, modelTag: "m@1" } as const;
      const fast = await encodeRestored(source, rgb, info.width, info.height, options);
      const full = await encodeByCompositing(source, rgb, info.width, info.height, options);
      assert.ok(Buffer.from(fast).equals(Buffer.from(full)), `source ${n}: same bytes`);
    }
    // A camera-style big-endian EXIF, image size as SHORT and as LONG: both corrected, as libvips does.
    const plain = await jpeg(36, 20);
    const camera = Buffer.concat([plain.subarray(0, 2), bigEndianExif(36, 20), plain.subarray(2)]);
    const { info, rgb } = await decodeImage(camera);
    const options = { format: "jpeg", grey: false, modelTag: "m@1" } as const;
    const fast = await encodeRestored(
      camera,
      rgb.map((v) => 255 - v),
      info.width,
      info.height,
      options,
    );
    const full = await encodeByCompositing(
      camera,
      rgb.map((v) => 255 - v),
      info.width,
      info.height,
      options,
    );
    assert.ok(Buffer.from(fast).equals(Buffer.from(full)), "big-endian EXIF: same bytes");
    const meta = await sharp(
      await encodeRestored(sources[0]!, (await decodeImage(sources[0]!)).rgb, 24, 40, {
        format: "jpeg",
        grey: false,
        modelTag: "m@1",
      }),
    ).metadata();
    assert.deepEqual([meta.width, meta.height, meta.orientation ?? 1], [24, 40, 1]);
    assert.ok(meta.icc !== undefined && meta.exif?.includes("unjpeg restored with m@1"));
  });
});
