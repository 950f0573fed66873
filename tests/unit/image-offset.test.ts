/** The top/left padding of a re-saved image and the crop back (lib/image/offset.ts). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { cropTopLeft, padTopLeft } from "../../lib/image/offset.js";

const image = { width: 3, height: 2, rgb: Uint8Array.from({ length: 18 }, (_, i) => i + 1) };
const pixel = (img: { rgb: Uint8Array; width: number }, x: number, y: number) => [
  ...img.rgb.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3),
];

test("padTopLeft replicates the first row and column; cropTopLeft undoes it", () => {
  const padded = padTopLeft(image, 2, 1);
  assert.deepEqual([padded.width, padded.height, padded.rgb.length], [4, 4, 48]);
  for (let y = 0; y < 4; y++) {
    for (let x = 0; x < 4; x++) {
      const source = pixel(image, Math.max(0, x - 1), Math.max(0, y - 2));
      assert.deepEqual(pixel(padded, x, y), source, `(${x}, ${y})`);
    }
  }
  const back = cropTopLeft(padded, 2, 1);
  assert.deepEqual([back.width, back.height], [3, 2]);
  assert.deepEqual([...back.rgb], [...image.rgb]);
});

test("no padding is a copy", () => {
  const same = padTopLeft(image, 0, 0);
  assert.deepEqual([...same.rgb], [...image.rgb]);
  assert.notEqual(same.rgb, image.rgb);
});
