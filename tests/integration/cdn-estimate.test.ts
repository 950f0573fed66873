/**
 * Restores decided upfront, on a real s3rver with the real storage core and restore: a source whose
 * estimated restore time (pixels from its headers × the seeded rate, with the safety margin) is over the
 * time left is handed off at once, without a model run and without waiting; a small one restores as
 * before.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createCdnOriginHandler } from "../../handlers/cdn-origin.js";
import { createOriginApp } from "../../lib/http/app.js";
import { queueHandOff } from "../../lib/http/hand-off.js";
import { estimateRestoreMs, SAFETY_FACTOR, SEEDED_RATE } from "../../lib/http/restore-estimate.js";
import { fakeSqs } from "../unit/queue-fake-sqs.js";
import {
  bodyOf,
  type CdnStack,
  contextWith,
  functionUrlEvent as event,
  type LambdaResult,
  makeJpeg,
  TEST_QUEUE_URL as QUEUE,
  startCdnStack,
} from "./cdn-stack.js";
import { listKeys } from "./s3rver-helpers.js";

/** Time the origin has for a restore in these tests. */
const BUDGET_MS = 2_500;
const BIG = { width: 2500, height: 2000 };

describe("CDN origin: restores estimated over the time left are handed off upfront", () => {
  let stack: CdnStack;
  let big: Uint8Array;
  let small: Uint8Array;
  before(async () => {
    stack = await startCdnStack();
    big = await makeJpeg(12, BIG.width, BIG.height, 3);
    small = await makeJpeg(12, 96, 64, 4);
  });
  after(() => stack.close());

  it("the premise: at the seeded rate the big image is over the budget and the small one within it", () => {
    assert.ok(estimateRestoreMs(BIG.width * BIG.height, SEEDED_RATE) * SAFETY_FACTOR > BUDGET_MS);
    assert.ok(estimateRestoreMs(96 * 64, SEEDED_RATE) * SAFETY_FACTOR < BUDGET_MS);
  });

  it("Lambda: the big image is queued without a model run and answered before its wait would end; a small one restores", async () => {
    await stack.put("est/big.jpg", big);
    await stack.put("est/small.jpg", small);
    const sqs = fakeSqs();
    const pendings: { key: string; state: string; estimatedMs?: number }[] = [];
    const app = await createOriginApp(stack.config, {
      deriver: stack.deriver,
      handOff: queueHandOff(QUEUE, stack.config.bucket!, async () => sqs),
      onPending: (pending) => pendings.push(pending),
    });
    const handler = createCdnOriginHandler(app);
    const runsBefore = stack.restores();

    const started = performance.now();
    const first = (await handler(event("/est/big.jpg"), contextWith(BUDGET_MS))) as LambdaResult;
    const elapsedMs = performance.now() - started;
    assert.equal(first.statusCode, 200);
    assert.equal(first.headers["x-unjpeg-action"], "pending");
    assert.equal(first.headers["x-unjpeg-pending"], "queued");
    assert.equal(first.headers["cache-control"], "public, max-age=60");
    assert.deepEqual(bodyOf(first), big, "the original, as it is");
    assert.ok(
      elapsedMs < BUDGET_MS,
      `answered in ${elapsedMs.toFixed(0)} ms, not after the ${BUDGET_MS} ms wait`,
    );
    assert.equal(stack.restores(), runsBefore, "no model run");
    assert.equal(sqs.messages.length, 1);
    assert.match(sqs.messages[0]!.body, /"key":"est\/big\.jpg"/);
    assert.equal(pendings.length, 1);
    assert.equal(pendings[0]!.state, "queued");
    const expected = estimateRestoreMs(BIG.width * BIG.height, SEEDED_RATE);
    assert.ok(Math.abs((pendings[0]!.estimatedMs ?? 0) - expected) < 1, "handed off on the estimate");
    assert.deepEqual(
      (await listKeys(stack.s3, "est/big")).filter((key) => key.includes(".restored.")),
      [],
      "nothing written",
    );

    const restored = (await handler(event("/est/small.jpg"), contextWith(BUDGET_MS))) as LambdaResult;
    assert.equal(restored.statusCode, 200);
    assert.equal(restored.headers["x-unjpeg-action"], "restored");
    assert.notDeepEqual(bodyOf(restored), small);
    assert.equal(stack.restores(), runsBefore + 1, "one model run, for the small image");
    assert.equal(sqs.messages.length, 1, "nothing more queued");
    assert.equal(pendings.length, 1);
  });

  it("a long-running process: the restore starts in the background at once, and later requests get it", async () => {
    await stack.put("est/background.jpg", big);
    const app = await createOriginApp(stack.config, {
      deriver: stack.deriver,
      background: true,
      pendingAfterMs: BUDGET_MS,
      onPending: () => {},
    });
    const runsBefore = stack.restores();
    const get = () => app.origin({ method: "GET", path: "/est/background.jpg", query: "", headers: {} });
    const started = performance.now();
    const first = await get();
    const elapsedMs = performance.now() - started;
    assert.equal(first.headers["x-unjpeg-action"], "pending");
    assert.equal(first.headers["x-unjpeg-pending"], "restoring");
    assert.ok(elapsedMs < BUDGET_MS, `answered in ${elapsedMs.toFixed(0)} ms`);
    let answer = first;
    for (let i = 0; i < 600 && answer.headers["x-unjpeg-action"] === "pending"; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      answer = await get();
    }
    assert.equal(answer.headers["x-unjpeg-action"], "hit");
    assert.equal(stack.restores(), runsBefore + 1, "one restore, shared by every request meanwhile");
  });
});
