/**
 * Invocations in flight together in one process, as Lambda Managed Instances runs them (per-environment
 * concurrency): the upload handler called 8 times at once on real S3 events from s3rver, with the real
 * restore on the small test model. They share one set of sessions and take turns in the process's run
 * queue (lib/model/run-queue.ts), so peak memory stays bounded; each keeps its own deadline and its own
 * decision line.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Context } from "aws-lambda";
import sharp from "sharp";
import { createUploadHandler } from "../../handlers/s3-upload.js";
import { modelRunQueue } from "../../lib/model/run-queue.js";
import { closeAllModels, sessionSetsCreated } from "../../lib/model/sessions.js";
import { restoreOptionsFromConfig } from "../../lib/restore/options.js";
import { restore } from "../../lib/restore/restore.js";
import type { Decision } from "../../lib/storage/report.js";
import { makeJpeg, startTestStack, TEST_MODEL_DIR, type TestStack, testDeriver } from "./upload-helpers.js";

const INVOCATIONS = 8;
const MODEL_CONCURRENCY = 2;
/** Big enough that a restore's working set shows in RSS (two tiles of the test model's 1024-px tiling). */
const WIDTH = 1280;
const HEIGHT = 960;
/**
 * Peak RSS growth allowed over a warm process while the 8 run. Measured on a 2-core machine: 45–74 MiB
 * with 2 turns; 255 MiB with MODEL_CONCURRENCY = 8 in this test, all 8 restoring at once.
 */
const RSS_GROWTH_LIMIT = 160 * 2 ** 20;
/** handlers/s3-upload.ts stops this long before Lambda's deadline. */
const DEADLINE_MARGIN_MS = 15_000;

/** A Lambda context whose deadline is `remainingMs` away. */
function context(id: string, remainingMs: number): Context {
  const deadline = Date.now() + remainingMs;
  return {
    awsRequestId: id,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  } as unknown as Context;
}

async function until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("the upload handler, 8 invocations in flight in one process", () => {
  it("opens one set of sessions when the first restores all start at once", async () => {
    await closeAllModels();
    const before = sessionSetsCreated();
    const sources = await Promise.all(
      Array.from({ length: INVOCATIONS }, (_, i) => makeJpeg(20, 64, 48, i + 1)),
    );
    const outcomes = await Promise.all(sources.map((bytes) => restore(bytes, { modelDir: TEST_MODEL_DIR })));
    assert.deepEqual(
      outcomes.map((o) => o.action),
      Array(INVOCATIONS).fill("restored"),
    );
    assert.equal(sessionSetsCreated() - before, 1);
  });

  describe("against s3rver", () => {
    let stack: TestStack;
    const events = new Map<string, unknown>();

    before(async () => {
      // s3rver's events are kept, not handled: the test invokes the handler with them itself.
      stack = await startTestStack({
        handler: async (event) => {
          const record = event.Records[0] as { s3: { object: { key: string } } };
          events.set(decodeURIComponent(record.s3.object.key.replace(/\+/g, " ")), event);
        },
        env: { UNJPEG_MODEL_CONCURRENCY: String(MODEL_CONCURRENCY) },
      });
    });
    after(() => stack?.close());

    it("gives 8 correct derivatives from one session set at bounded memory, each with its own deadline and line", async () => {
      const sources = await Promise.all(
        Array.from({ length: INVOCATIONS + 1 }, async (_, i) => ({
          key: `burst/photo ${i}.jpg`,
          bytes: await makeJpeg(12 + i, WIDTH, HEIGHT, 100 + i),
        })),
      );
      const late = sources.pop()!;
      for (const source of [...sources, late]) await stack.put(source.key, source.bytes);
      await stack.local.idle();
      assert.equal(events.size, INVOCATIONS + 1);

      // Each derivative must equal the restore of its source alone. These sequential restores also warm
      // the process (sessions, onnxruntime's arena, the buffer pool): the baseline for peak RSS below.
      const deriver = await testDeriver(stack);
      const expected = new Map<string, Uint8Array>();
      for (const source of sources) {
        const outcome = await deriver.restore(source.bytes, restoreOptionsFromConfig(deriver.config));
        assert.equal(outcome.action, "restored");
        if (outcome.action === "restored") expected.set(source.key, outcome.output);
      }
      const sessionSets = sessionSetsCreated();
      const baselineRss = process.resourceUsage().maxRSS * 1024;

      const lines: Decision[] = [];
      const handler = createUploadHandler(deriver, { sink: (_line, decision) => lines.push(decision) });
      // Hold every turn first, so that all invocations are seen waiting in the queue together.
      const held = await Promise.all(
        Array.from({ length: MODEL_CONCURRENCY }, () => modelRunQueue.enter(MODEL_CONCURRENCY)),
      );
      const running = sources.map((source, i) =>
        handler(events.get(source.key), context(`request-${i}`, 300_000)),
      );
      await until(() => modelRunQueue.stats().waiting === INVOCATIONS, "8 invocations waiting for a turn");

      // A ninth whose deadline comes while it waits: it leaves the queue, fails alone, and says so.
      const lateRun = handler(events.get(late.key), context("request-late", DEADLINE_MARGIN_MS + 5_000));
      await assert.rejects(lateRun, /1 record\(s\) failed/);
      const lateLines = lines.filter((line) => line.key === late.key);
      assert.equal(lateLines.length, 1);
      assert.equal(lateLines[0]?.action, "failed");
      assert.equal(lateLines[0]?.reason, "RESTORE_ABORTED");
      assert.match(String(lateLines[0]?.message), /"queue"/);
      assert.equal(lateLines[0]?.retryable, true);
      assert.equal(modelRunQueue.stats().waiting, INVOCATIONS, "the others kept their places");

      modelRunQueue.resetPeak();
      for (const end of held) end();
      const results = await Promise.all(running);
      const peakRss = process.resourceUsage().maxRSS * 1024;

      assert.deepEqual(results, Array(INVOCATIONS).fill(undefined), "no invocation failed");
      assert.ok(modelRunQueue.stats().peakRunning <= MODEL_CONCURRENCY, "at most 2 restores at once");
      assert.equal(sessionSetsCreated(), sessionSets, "no invocation opened sessions of its own");
      assert.ok(
        peakRss - baselineRss < RSS_GROWTH_LIMIT,
        `peak RSS grew by ${Math.round((peakRss - baselineRss) / 2 ** 20)} MiB over the warm process`,
      );

      // One line per invocation, each about its own object, and the right bytes under each derivative key.
      const written = lines.filter((line) => line.action === "written");
      assert.deepEqual(written.map((line) => line.key).sort(), sources.map((s) => s.key).sort());
      assert.equal(lines.length, INVOCATIONS + 1);
      for (const source of sources) {
        const derivative = await stack.get(source.key.replace(/\.jpg$/, ".restored.jpg"));
        assert.deepEqual(derivative, expected.get(source.key), `${source.key}: same bytes as alone`);
        const { width, height, format } = await sharp(derivative).metadata();
        assert.deepEqual([width, height, format], [WIDTH, HEIGHT, "jpeg"]);
      }
      assert.deepEqual(
        await stack.keys("burst/"),
        [
          ...[...sources.map((s) => s.key), ...sources.map((s) => s.key.replace(/\.jpg$/, ".restored.jpg"))],
          late.key,
        ].sort(),
      );
    });
  });
});
