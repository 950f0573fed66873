/** The top/left padding of a re-saved image and the crop back (lib/image/offset.ts). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { cropTopLeft, padTopLeft, uprightOffset } from "../../lib/image/offset.js";

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

/** EXIF's definitions: where stored pixel (x, y) of a w × h image is shown, upright. */
function shown(x: number, y: number, w: number, h: number, orientation: number): [number, number] {
  switch (orientation) {
    case 2:
      return [w - 1 - x, y];
    case 3:
      return [w - 1 - x, h - 1 - y];
    case 4:
      return [x, h - 1 - y];
    case 5:
      return [y, x];
    case 6:
      return [h - 1 - y, x];
    case 7:
      return [h - 1 - y, w - 1 - x];
    case 8:
      return [y, w - 1 - x];
    default:
      return [x, y];
  }
}

test("uprightOffset: the earlier grid's blocks where the upright image has them, every orientation", () => {
  const [w, h] = [37, 29];
  for (let orientation = 1; orientation <= 8; orientation++) {
    for (const offset of [
      [0, 0],
      [3, 5],
      [7, 1],
      [2, 0],
    ] as [number, number][]) {
      const [uw, uh] = orientation >= 5 ? [h, w] : [w, h];
      // Each upright pixel labelled with the earlier block its stored pixel was in.
      const label = new Array<string>(uw * uh);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const [u, v] = shown(x, y, w, h, orientation);
          label[v * uw + u] = `${Math.floor((y + offset[0]) / 8)},${Math.floor((x + offset[1]) / 8)}`;
        }
      }
      const [dy, dx] = uprightOffset(offset, w, h, orientation);
      for (let v = 0; v < uh; v++) {
        for (let u = 0; u < uw; u++) {
          const sameBlock = (a: number, b: number) => label[a] === label[b];
          if (u > 0) {
            const starts = (u + dx) % 8 === 0;
            assert.equal(
              !sameBlock(v * uw + u, v * uw + u - 1),
              starts,
              `orientation ${orientation}, ${offset}: column ${u}`,
            );
          }
          if (v > 0) {
            const starts = (v + dy) % 8 === 0;
            assert.equal(
              !sameBlock(v * uw + u, (v - 1) * uw + u),
              starts,
              `orientation ${orientation}, ${offset}: row ${v}`,
            );
          }
        }
      }
    }
  }
});
