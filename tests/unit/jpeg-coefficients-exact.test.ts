/**
 * Exactness: the decoded coefficients, dequantized, inverse-transformed with libjpeg's integer IDCT and
 * colour-converted as libjpeg does (tests/unit/jpeg-reference.ts), equal what `djpeg -dct int` decodes,
 * to the byte, on greyscale and 4:4:4 files, baseline and progressive, from cjpeg and from sharp.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import sharp from "sharp";
import { decodeCoefficients } from "../../lib/jpeg/index.js";
import { readPnm, referencePixels } from "./jpeg-reference.js";
import { photoLikePpm, runTool, skipWithout } from "./jpeg-tools.js";

const skip = skipWithout("cjpeg", "djpeg");
// Not a multiple of 8 either way: partial blocks at the right and bottom edges.
const source = photoLikePpm(61, 45);

function assertSameAsDjpeg(jpeg: Uint8Array): void {
  const decoded = decodeCoefficients(jpeg);
  const expected = readPnm(runTool("djpeg", ["-dct", "int", "-pnm"], jpeg));
  assert.equal(expected.width, decoded.width);
  assert.equal(expected.height, decoded.height);
  const actual = referencePixels(decoded);
  assert.equal(actual.length, expected.pixels.length);
  let differing = 0;
  for (let i = 0; i < actual.length; i++) if (actual[i] !== expected.pixels[i]) differing++;
  assert.equal(differing, 0, `${differing} of ${actual.length} samples differ from djpeg's`);
}

describe("decoded coefficients reproduce djpeg -dct int to the byte", { skip }, () => {
  for (const quality of [5, 30, 75, 95, 100]) {
    for (const [name, colour] of [
      ["grey", ["-grayscale"]],
      ["4:4:4", ["-sample", "1x1"]],
    ] as const) {
      for (const progressive of [false, true]) {
        const mode = progressive ? "progressive" : "baseline";
        test(`${name} ${mode} QF ${quality} (cjpeg)`, () => {
          const args = ["-quality", String(quality), ...colour, ...(progressive ? ["-progressive"] : [])];
          const jpeg = runTool("cjpeg", args, source);
          assert.equal(decodeCoefficients(jpeg).progressive, progressive);
          assertSameAsDjpeg(jpeg);
        });
      }
    }
  }

  test("4:4:4 baseline QF 50 with a restart marker every block (cjpeg -restart 1B)", () => {
    assertSameAsDjpeg(runTool("cjpeg", ["-quality", "50", "-sample", "1x1", "-restart", "1B"], source));
  });

  test("grey progressive QF 20 with restarts and optimized tables (cjpeg -restart 2 -optimize)", () => {
    const args = ["-quality", "20", "-grayscale", "-progressive", "-restart", "2", "-optimize"];
    assertSameAsDjpeg(runTool("cjpeg", args, source));
  });

  for (const progressive of [false, true]) {
    test(`4:4:4 ${progressive ? "progressive" : "baseline"} QF 40 written by sharp`, async () => {
      const { width, height, pixels } = readPnm(source);
      const jpeg = await sharp(pixels, { raw: { width, height, channels: 3 } })
        .jpeg({ quality: 40, chromaSubsampling: "4:4:4", progressive })
        .toBuffer();
      assertSameAsDjpeg(jpeg);
    });
  }
});
