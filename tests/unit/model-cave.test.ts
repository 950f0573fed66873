import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { poolTokens } from "../../lib/model/cave.js";

describe("poolTokens", () => {
  it("returns the grid itself when it is small enough", () => {
    const grid = Float32Array.from({ length: 4 * 5 * 2 }, (_, i) => i);
    const pooled = poolTokens(grid, 4, 5, 2, 20);
    assert.equal(pooled.data, grid);
    assert.deepEqual([pooled.gh, pooled.gw], [4, 5]);
  });

  it("average-pools by the smallest square window that fits, edge windows averaging what they cover", () => {
    // 3×5 grid, 1 channel, value = column index + 10 × row index.
    const grid = Float32Array.from({ length: 15 }, (_, i) => (i % 5) + 10 * Math.floor(i / 5));
    const pooled = poolTokens(grid, 3, 5, 1, 6); // k = 2 → 2×3 positions
    assert.deepEqual([pooled.gh, pooled.gw], [2, 3]);
    assert.deepEqual([...pooled.data], [5.5, 7.5, 9, 20.5, 22.5, 24]);
    const big = poolTokens(new Float32Array(94 * 125 * 3).fill(2), 94, 125, 3, 1024);
    assert.ok(big.gh * big.gw <= 1024 && big.gh * big.gw > 256, `${big.gh}×${big.gw}`);
    assert.ok(big.data.every((v) => v === 2));
  });
});
