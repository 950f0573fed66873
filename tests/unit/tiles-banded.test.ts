import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { createBandedBlender } from "../../lib/image/blend-bands.js";
import { giveBack, MAX_POOLED_BYTES, pooledByteCount, takeBuffer } from "../../lib/image/buffer-pool.js";
import { axisWeights, blendInto, padTo, planAxis, planarToInterleaved } from "../../lib/image/tiles.js";

/** Decoder-like output for one tile: planar, padded rows, values a little beyond [−1, 1] too. */
function fakeTile(pw: number, ph: number, seed: number): Float32Array {
  const data = new Float32Array(3 * pw * ph);
  for (let k = 0; k < data.length; k++) data[k] = Math.sin(k * 0.37 + seed * 1.7) * 1.1;
  return data;
}

describe("createBandedBlender", () => {
  it("gives the same bytes as a whole-image float accumulator, for any tiling", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 2 }),
        (width, height, tileUnits, overlapUnits) => {
          const unit = 16;
          const tile = (tileUnits + 2 * overlapUnits + 1) * unit;
          const overlap = overlapUnits * unit;
          const xs = planAxis(width, tile, overlap);
          const ys = planAxis(height, tile, overlap);
          const wx = xs.map((s, i) => axisWeights(s, xs[i - 1], xs[i + 1]));
          const wy = ys.map((s, j) => axisWeights(s, ys[j - 1], ys[j + 1]));
          // Pooled buffers hold what their last user left: the blender must not depend on zeros.
          while (pooledByteCount() > 0) takeBuffer(1);
          const rowBand = 3 * (ys.length > 1 ? overlap : 0) * width * 4;
          const colBand = 3 * (xs.length > 1 ? overlap : 0) * Math.max(...ys.map((s) => s.end - s.start)) * 4;
          for (const bytes of [width * height * 3, rowBand, rowBand, colBand, colBand])
            giveBack(new Uint8Array(bytes).fill(0x47).buffer); // floats of 51015.3
          const banded = createBandedBlender(width, height, xs, ys, wx, wy);
          const accumulator = new Float32Array(width * height * 3);
          for (let j = 0; j < ys.length; j++) {
            for (let i = 0; i < xs.length; i++) {
              const pw = padTo(xs[i]!.end - xs[i]!.start, unit);
              const ph = padTo(ys[j]!.end - ys[j]!.start, unit);
              const data = fakeTile(pw, ph, j * xs.length + i);
              banded.add(i, j, data, pw, pw * ph);
              blendInto(
                accumulator,
                width,
                height,
                data,
                pw,
                pw * ph,
                { x: xs[i]!, y: ys[j]! },
                wx[i]!,
                wy[j]!,
                true,
              );
            }
          }
          assert.deepEqual(banded.output, planarToInterleaved(accumulator, width, height));
          banded.release();
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("buffer pool", () => {
  it("hands back the smallest buffer that fits, and keeps no more than its cap", () => {
    while (pooledByteCount() > 0) takeBuffer(1);
    const small = new ArrayBuffer(100);
    const large = new ArrayBuffer(1000);
    giveBack(large);
    giveBack(small);
    giveBack(small); // twice: kept once
    assert.equal(pooledByteCount(), 1100);
    assert.equal(takeBuffer(50), small);
    assert.equal(takeBuffer(50), large);
    assert.notEqual(takeBuffer(50), small, "taken buffers are not handed out twice");
    giveBack(new ArrayBuffer(MAX_POOLED_BYTES));
    giveBack(new ArrayBuffer(1024));
    assert.ok(pooledByteCount() <= MAX_POOLED_BYTES);
  });
});
