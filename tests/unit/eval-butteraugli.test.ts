/** Reading butteraugli_main's answer, and finding the command (tests/integration/eval-cli.test.ts runs it). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { findButteraugli, parseThreeNorm } from "../../lib/eval/butteraugli.js";

describe("butteraugli", () => {
  it("reads the 3-norm from the second line (the first is the max distance)", () => {
    assert.equal(parseThreeNorm("11.2467203140\n3-norm: 4.206428\n"), 4.206428);
    assert.equal(parseThreeNorm("0.0000000000\n3-norm: 0.000000\n"), 0);
  });

  it("refuses output without a 3-norm (EVAL_BUTTERAUGLI_OUTPUT)", () => {
    for (const text of ["11.2467203140\n", "", "3-norm: nan\n"]) {
      assert.throws(() => parseThreeNorm(text), { code: "EVAL_BUTTERAUGLI_OUTPUT" }, JSON.stringify(text));
    }
  });

  it("answers null for a command that is not installed", async () => {
    assert.equal(await findButteraugli("/nonexistent/butteraugli_main"), null);
  });
});
