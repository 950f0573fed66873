/**
 * `restore()` given the caller's decision (`decided`, what the S3 paths pass on from their one triage)
 * takes it over: it reads the headers for what the model needs and decides nothing again, so a decision
 * made on the headers is the one that holds. Without it, restore() decides from the whole file.
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { closeAllModels } from "../../lib/model/sessions.js";
import { decide } from "../../lib/restore/decide.js";
import { restore } from "../../lib/restore/restore.js";
import { makeJpeg, TEST_MODEL_DIR } from "./s3rver-helpers.js";

after(() => closeAllModels());

test("a decision to restore made on the headers is taken over, not made again", async () => {
  const bytes = await makeJpeg(97, 64, 48, 1);
  const own = await restore(bytes, { modelDir: TEST_MODEL_DIR, format: "png" });
  assert.deepEqual([own.action, own.action === "skipped" && own.reason], ["skipped", "high-quality"]);

  // A caller that decided to restore it (as a forced triage does) gets it restored, with its decision's
  // figures in the description.
  const decided = decide(bytes, { totalBytes: bytes.length, force: true });
  assert.equal(decided.action, "restore");
  if (decided.action !== "restore") return;
  const taken = await restore(bytes, { modelDir: TEST_MODEL_DIR, format: "png", decided });
  assert.equal(taken.action, "restored");
  assert.equal(taken.description.quality, decided.quality);
  assert.deepEqual([taken.description.width, taken.description.height], [64, 48]);
});
