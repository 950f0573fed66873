import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  float16BitsToFloat32,
  float32ToFloat16Bits,
  makeTensor,
  readFloat32,
} from "../../lib/model/tensors.js";

describe("float16 conversion", () => {
  it("converts known values exactly", () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [0.5, 0x3800],
      [65504, 0x7bff], // largest half
      [65520, 0x7c00], // rounds up to infinity
      [2 ** -24, 0x0001], // smallest subnormal
      [2 ** -25, 0x0000], // half of it: ties to even (zero)
      [1 + 2 ** -11, 0x3c00], // tie: to even
      [1 + 3 * 2 ** -11, 0x3c02], // tie: to even (up)
      [Number.POSITIVE_INFINITY, 0x7c00],
    ];
    for (const [value, bits] of cases) assert.equal(float32ToFloat16Bits(value), bits, `${value}`);
    assert.ok(Number.isNaN(float16BitsToFloat32(float32ToFloat16Bits(Number.NaN))));
  });

  it("round-trips every half value", () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      const value = float16BitsToFloat32(bits);
      if (Number.isNaN(value)) continue;
      assert.equal(float32ToFloat16Bits(value), bits);
    }
  });

  it("rounds any float32 to the nearest half (error at most half a unit in the last place)", () => {
    fc.assert(
      fc.property(fc.float({ min: -60000, max: 60000, noNaN: true }), (x) => {
        const back = float16BitsToFloat32(float32ToFloat16Bits(x));
        const ulp = Math.abs(x) < 2 ** -14 ? 2 ** -24 : 2 ** (Math.floor(Math.log2(Math.abs(x))) - 10);
        return Math.abs(back - x) <= ulp / 2 + 1e-12;
      }),
      { numRuns: 2000 },
    );
  });

  it("makes float16 tensors backed by Uint16Array and reads them back", () => {
    const data = Float32Array.of(0.25, -1.5, 3.140625);
    const tensor = makeTensor(data, [3], "float16");
    assert.equal(tensor.type, "float16");
    assert.ok(tensor.data instanceof Uint16Array);
    assert.deepEqual([...readFloat32(tensor)], [0.25, -1.5, 3.140625]);
    assert.equal(readFloat32(makeTensor(data, [3], "float32")), data);
  });
});
