/**
 * Load: 200 uploads at once (mixed qualities) through s3rver → the handler, with the real restore on the
 * small test model. Exactly the expected derivatives: nothing lost, nothing written twice, no failures.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { createUploadHandler } from "../../handlers/s3-upload.js";
import type { Decision } from "../../lib/storage/report.js";
import { BUCKET, makeJpeg, startTestStack, testDeriver } from "./upload-helpers.js";

const UPLOADS = 200;
/** Every fifth upload is low quality and needs a derivative; the rest are skipped as high quality. */
const needsRestore = (i: number) => i % 5 === 0;

test(`${UPLOADS} uploads at once give exactly the expected derivatives`, async () => {
  const decisions: Decision[] = [];
  let deriver: Awaited<ReturnType<typeof testDeriver>> | undefined;
  const handler = createUploadHandler(async () => deriver!, {
    sink: (_line, decision) => decisions.push(decision),
  });
  const stack = await startTestStack({ handler: (event) => handler(event, {} as never), concurrency: 4 });
  try {
    deriver = await testDeriver(stack);
    const sources = await Promise.all(
      Array.from({ length: UPLOADS }, async (_, i) => ({
        key: `load/${String(i).padStart(3, "0")} img+${i}.jpg`,
        bytes: await makeJpeg(needsRestore(i) ? 10 + (i % 30) : 92 + (i % 7), 64, 48, i + 1),
        restore: needsRestore(i),
      })),
    );
    await Promise.all(sources.map((s) => stack.put(s.key, s.bytes)));
    await stack.local.idle();

    const expected = sources.filter((s) => s.restore).map((s) => s.key.replace(/\.jpg$/, ".restored.jpg"));
    const keys = await stack.keys();
    assert.deepEqual(keys, [...sources.map((s) => s.key), ...expected].sort());

    const failed = decisions.filter((d) => d.action === "failed");
    assert.deepEqual(failed, []);
    const written = decisions.filter((d) => d.action === "written").map((d) => d.key);
    assert.equal(written.length, expected.length, "one write per derivative, none twice");
    assert.equal(new Set(written).size, written.length);
    const skipped = decisions.filter((d) => d.action === "skipped");
    assert.equal(skipped.filter((d) => d.reason === "high-quality").length, UPLOADS - expected.length);
    assert.equal(skipped.filter((d) => d.reason === "derivative").length, expected.length);
    assert.equal(decisions.length, UPLOADS + expected.length, "one decision per event");

    for (const source of sources.filter((s) => s.restore)) {
      const [sourceHead, derivative] = await Promise.all([
        stack.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: source.key })),
        stack.s3.send(
          new HeadObjectCommand({ Bucket: BUCKET, Key: source.key.replace(/\.jpg$/, ".restored.jpg") }),
        ),
      ]);
      assert.equal(`"${derivative.Metadata?.["unjpeg-source-etag"]}"`, sourceHead.ETag);
      assert.equal(decodeURIComponent(derivative.Metadata?.["unjpeg-source-key"] ?? ""), source.key);
    }
    for (const source of sources.slice(0, 20)) assert.deepEqual(await stack.get(source.key), source.bytes);
  } finally {
    await stack.close();
  }
});
