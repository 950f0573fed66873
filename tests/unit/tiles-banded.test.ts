import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { createBandedBlender } from "../../lib/image/blend-bands.js";
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
        },
      ),
      { numRuns: 60 },
    );
  });
});
