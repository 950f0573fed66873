import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  estimateRestoreMs,
  fitsBudget,
  judgeRestore,
  MIN_LEARNING_PIXELS,
  observeRestore,
  SAFETY_FACTOR,
  SEEDED_RATE,
} from "../../lib/http/restore-estimate.js";

describe("restore estimate", () => {
  it("the seeded rate reproduces the bench figures it was drawn from (0.84 s at 1 MP, 4.2 s at 12 MP)", () => {
    assert.ok(Math.abs(estimateRestoreMs(1e6, SEEDED_RATE) - 840) < 10);
    assert.ok(Math.abs(estimateRestoreMs(12e6, SEEDED_RATE) - 4_200) < 10);
  });

  it("grows with pixels and never goes below the fixed cost", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 60_000_000 }), fc.integer({ min: 1, max: 1e6 }), (a, d) => {
        assert.ok(estimateRestoreMs(a + d, SEEDED_RATE) > estimateRestoreMs(a, SEEDED_RATE));
        assert.ok(estimateRestoreMs(a, SEEDED_RATE) >= SEEDED_RATE.fixedMs);
      }),
    );
    assert.equal(estimateRestoreMs(-5, SEEDED_RATE), SEEDED_RATE.fixedMs);
  });

  it("learns: the per-megapixel cost moves towards what restores took, by the weight", () => {
    const rate = { fixedMs: 500, msPerMegapixel: 300 };
    // 4 MP in 500 + 4 × 1000 ms: this restore showed 1000 ms per MP.
    const slower = observeRestore(rate, 4e6, 4_500, 0.5);
    assert.equal(slower.msPerMegapixel, 650);
    assert.equal(slower.fixedMs, 500);
    let learnt = rate;
    for (let i = 0; i < 30; i++) learnt = observeRestore(learnt, 2e6, 500 + 2 * 100);
    assert.ok(
      Math.abs(learnt.msPerMegapixel - 100) < 1,
      `converges on 100 ms/MP, got ${learnt.msPerMegapixel}`,
    );
    // Faster than the fixed cost alone: the per-megapixel part goes towards 0, never below.
    assert.ok(observeRestore(rate, 2e6, 100, 1).msPerMegapixel === 0);
  });

  it("small, unmeasured or nonsensical restores leave the rate alone", () => {
    const rate = { fixedMs: 500, msPerMegapixel: 300 };
    assert.equal(observeRestore(rate, MIN_LEARNING_PIXELS - 1, 10_000), rate);
    assert.equal(observeRestore(rate, 4e6, Number.NaN), rate);
    assert.equal(observeRestore(rate, 4e6, -1), rate);
    assert.equal(observeRestore(rate, Number.NaN, 1_000), rate);
  });

  it("fits a budget only with the safety margin; no deadline always fits", () => {
    assert.equal(fitsBudget(1_000, 1_000 * SAFETY_FACTOR), true);
    assert.equal(fitsBudget(1_000, 1_000 * SAFETY_FACTOR - 1), false);
    assert.equal(fitsBudget(1e9, Number.POSITIVE_INFINITY), true);
    assert.equal(fitsBudget(0, -1), false, "no time left: nothing fits");
  });

  it("judges from the triage: pixels always, an estimate only when over the time left", () => {
    const restore = { action: "restore", quality: 20, width: 4000, height: 3000 } as const;
    const fast = { fixedMs: 100, msPerMegapixel: 10 };
    assert.deepEqual(judgeRestore(restore, fast, 10_000), { pixels: 12e6 });
    const over = judgeRestore(restore, SEEDED_RATE, 3_000);
    assert.equal(over.pixels, 12e6);
    assert.ok(Math.abs((over.estimatedMs ?? 0) - 4_200) < 10);
    assert.deepEqual(judgeRestore(restore, SEEDED_RATE, Number.POSITIVE_INFINITY), { pixels: 12e6 });
    // No restore would run (a high-quality source) or no answer: nothing to hand off, the restore decides.
    const skip = { action: "skip", reason: "high-quality", message: "q95", quality: 95 } as const;
    assert.deepEqual(judgeRestore(skip, SEEDED_RATE, 0), {});
    assert.deepEqual(judgeRestore(null, SEEDED_RATE, 0), {});
  });
});
