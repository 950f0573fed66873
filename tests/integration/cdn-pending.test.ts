/**
 * A restore that cannot finish before the answer is due, on a real s3rver with the real storage core and
 * restore: the viewer gets the original at once (pending, briefly cached), the restore is handed to the
 * restore queue (the in-memory SQS fake of tests/unit/queue-fake-sqs.ts, drained by the real queue worker
 * code) or, in a long-running process, goes on in the background; a later request finds the derivative.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import sharp from "sharp";
import { createCdnOriginHandler } from "../../handlers/cdn-origin.js";
import { createOriginApp } from "../../lib/http/app.js";
import { queueHandOff } from "../../lib/http/hand-off.js";
import { handleMessageBody } from "../../lib/queue/handle.js";
import { runWorker } from "../../lib/queue/worker.js";
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

describe("CDN origin: restores that outlast the answer", () => {
  let stack: CdnStack;
  let large: Uint8Array;
  before(async () => {
    stack = await startCdnStack();
    // Big enough that the test model cannot restore it within the few ms these tests give it.
    large = await makeJpeg(12, 1024, 768, 7);
  });
  after(() => stack.close());

  it("Lambda with a restore queue: the original now, the restore queued once, the derivative on a later request", async () => {
    await stack.put("big/queued.jpg", large);
    const sqs = fakeSqs();
    const pendings: string[] = [];
    const app = await createOriginApp(stack.config, {
      deriver: stack.deriver,
      handOff: queueHandOff(QUEUE, stack.config.bucket!, async () => sqs),
      onPending: (pending) => pendings.push(`${pending.key} ${pending.state}`),
    });
    const handler = createCdnOriginHandler(app);
    const runsBefore = stack.restores();

    // No time left for a restore at all: it is not even started.
    const first = (await handler(event("/big/queued.jpg"), contextWith(0))) as LambdaResult;
    assert.equal(first.statusCode, 200);
    assert.equal(first.headers["x-unjpeg-action"], "pending");
    assert.equal(first.headers["x-unjpeg-pending"], "queued");
    assert.equal(first.headers["cache-control"], "public, max-age=60");
    assert.equal(first.headers["content-type"], "image/jpeg");
    assert.deepEqual(bodyOf(first), large, "the original, as it is");
    assert.equal(stack.restores(), runsBefore, "no model run in the request");
    assert.equal(sqs.messages.length, 1);
    assert.match(sqs.messages[0]!.body, /"key":"big\/queued\.jpg"/);
    assert.deepEqual(pendings, ["big/queued.jpg queued"]);

    // Meanwhile: pending at once, even with time to spare, and not queued twice.
    const again = (await handler(event("/big/queued.jpg"), contextWith(60_000))) as LambdaResult;
    assert.equal(again.headers["x-unjpeg-pending"], "queued");
    assert.equal(sqs.messages.length, 1);
    const notModified = (await handler(
      event("/big/queued.jpg", { "if-none-match": first.headers["etag"]! }),
      contextWith(0),
    )) as LambdaResult;
    assert.equal(notModified.statusCode, 304);

    // The queue worker (the upload function in a deployment) restores it.
    const stats = await runWorker({
      sqs,
      queueUrl: QUEUE,
      concurrency: 1,
      visibilitySeconds: 60,
      waitSeconds: 0,
      exitWhenEmpty: true,
      handle: (message, signal) => handleMessageBody(stack.deriver, message.body, signal),
    });
    assert.equal(stats.succeeded, 1);
    assert.equal(stack.restores(), runsBefore + 1);

    const later = (await handler(
      event("/big/queued.jpg", { "if-none-match": first.headers["etag"]! }),
      contextWith(0),
    )) as LambdaResult;
    assert.equal(later.statusCode, 200, "the pending ETag no longer matches: the restored image");
    assert.equal(later.headers["x-unjpeg-action"], "hit");
    assert.equal(later.headers["cache-control"], "public, max-age=31536000");
    assert.notDeepEqual(bodyOf(later), large);
    assert.equal(stack.restores(), runsBefore + 1, "served from storage, no model run");

    // Another format: the queued restore wrote the configured one (JPEG); it is re-encoded, not redone.
    const webp = (await handler(event("/big/queued.jpg", {}, "format=webp"), contextWith(0))) as LambdaResult;
    assert.equal(webp.statusCode, 200);
    assert.equal(webp.headers["x-unjpeg-action"], "hit");
    assert.equal(webp.headers["x-unjpeg-re-encoded-from"], "jpeg");
    assert.equal(webp.headers["content-type"], "image/webp");
    assert.equal((await sharp(bodyOf(webp)).metadata()).format, "webp");
    assert.equal(stack.restores(), runsBefore + 1);
  });

  it("Lambda without a queue: a restore still running at the deadline is abandoned (writes nothing); the answer says not queued", async () => {
    await stack.put("big/unqueued.jpg", large);
    // The real restore, held at its start until the answer has gone out, so that it is surely still running.
    let release = (): void => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let settled: Promise<unknown> | undefined;
    const deriver = {
      ...stack.deriver,
      restore: ((input, options) => {
        const run = gate.then(() => stack.deriver.restore(input, options));
        settled = run.catch(() => {});
        return run;
      }) as typeof stack.deriver.restore,
    };
    const pendings: { state: string }[] = [];
    const app = await createOriginApp(stack.config, { deriver, onPending: (p) => pendings.push(p) });
    const handler = createCdnOriginHandler(app);
    const runsBefore = stack.restores();
    const result = (await handler(event("/big/unqueued.jpg"), contextWith(1_500))) as LambdaResult;
    assert.equal(result.statusCode, 200);
    assert.equal(result.headers["x-unjpeg-action"], "pending");
    assert.equal(result.headers["x-unjpeg-pending"], "not-queued");
    assert.deepEqual(bodyOf(result), large);
    assert.deepEqual(
      pendings.map((p) => p.state),
      ["not-queued"],
    );
    assert.ok(settled !== undefined, "the restore had started");
    release();
    await settled;
    assert.equal(stack.restores(), runsBefore, "the abandoned restore stopped before the model ran");
    assert.deepEqual(
      (await listKeys(stack.s3, "big/unqueued")).filter((key) => key.includes(".restored.")),
      [],
    );
  });

  it("a long-running process: the restore goes on after the pending answer and later requests get it", async () => {
    await stack.put("big/background.jpg", large);
    const app = await createOriginApp(stack.config, {
      deriver: stack.deriver,
      background: true,
      pendingAfterMs: 1,
      onPending: () => {},
    });
    const runsBefore = stack.restores();
    const get = () => app.origin({ method: "GET", path: "/big/background.jpg", query: "", headers: {} });
    const first = await get();
    assert.equal(first.status, 200);
    assert.equal(first.headers["x-unjpeg-action"], "pending");
    assert.equal(first.headers["x-unjpeg-pending"], "restoring");
    assert.deepEqual(first.body, large);
    let answer = first;
    for (let i = 0; i < 300 && answer.headers["x-unjpeg-action"] === "pending"; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      answer = await get();
    }
    assert.equal(answer.headers["x-unjpeg-action"], "hit");
    assert.equal(stack.restores(), runsBefore + 1, "one restore, shared by every request meanwhile");
  });
});
