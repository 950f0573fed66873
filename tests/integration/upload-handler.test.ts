/**
 * Restore on upload against a real s3rver: uploads go through S3, s3rver's events reach the Lambda
 * handler function as real S3 event notifications, and the handler runs the real restore on a small real
 * (random-weight) model.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { createUploadHandler } from "../../handlers/s3-upload.js";
import type { Deriver } from "../../lib/storage/derive.js";
import { encodeEventKey } from "../../lib/storage/keys.js";
import { BUCKET, makeJpeg, startTestStack, type TestStack, testDeriver } from "./upload-helpers.js";

type Line = Record<string, unknown>;

describe("restore on upload (s3rver + handler + real restore)", () => {
  let stack: TestStack;
  let deriver: Deriver;
  const lines: Line[] = [];
  const originals = new Map<string, Uint8Array>();
  const handler = createUploadHandler(() => Promise.resolve(deriver), {
    sink: (line) => lines.push(JSON.parse(line) as Line),
  });
  const invoke = (event: unknown) => handler(event, {} as never);
  const decisionsFor = (key: string) => lines.filter((l) => l["key"] === key);

  before(async () => {
    stack = await startTestStack({ handler: (event) => invoke(event) });
    deriver = await testDeriver(stack);
  });
  after(async () => {
    // Originals are byte-identical after every test.
    for (const [key, bytes] of originals) {
      assert.deepEqual(await stack.get(key), bytes, `original ${key} changed`);
    }
    await stack?.close();
  });

  const upload = async (key: string, bytes: Uint8Array, contentType?: string) => {
    originals.set(key, bytes);
    await stack.put(key, bytes, contentType);
    await stack.local.idle();
  };
  const head = (key: string) => stack.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));

  test("a low-quality upload gets a derivative with metadata, content type and cache control", async () => {
    const source = await makeJpeg(10);
    await upload("photos/cat.jpg", source);
    const sourceHead = await head("photos/cat.jpg");
    const derivative = await head("photos/cat.restored.jpg");
    assert.equal(derivative.ContentType, "image/jpeg");
    assert.match(derivative.CacheControl ?? "", /max-age=\d+/);
    const meta = derivative.Metadata ?? {};
    assert.equal(meta["unjpeg-derivative"], "1");
    assert.equal(meta["unjpeg-source-key"], "photos%2Fcat.jpg");
    assert.equal(`"${meta["unjpeg-source-etag"]}"`, sourceHead.ETag);
    assert.equal(meta["unjpeg-quality"], "10");
    assert.equal(meta["unjpeg-model"], deriver.model);
    assert.ok(Number(meta["unjpeg-ms"]) >= 0);
    const restored = await stack.get("photos/cat.restored.jpg");
    assert.deepEqual([...restored.subarray(0, 2)], [0xff, 0xd8], "a JPEG");
    const [decision] = decisionsFor("photos/cat.jpg");
    assert.equal(decision?.["Outcome"], "written");
    assert.equal(decision?.["derivativeKey"], "photos/cat.restored.jpg");
    // The derivative's own event is skipped by key pattern: no loop.
    const own = decisionsFor("photos/cat.restored.jpg");
    assert.deepEqual(
      own.map((l) => [l["Outcome"], l["Reason"]]),
      [["skipped", "derivative"]],
    );
  });

  test("a high-quality upload gets none, logged as skipped", async () => {
    await upload("photos/sharp.jpg", await makeJpeg(95));
    assert.deepEqual(
      decisionsFor("photos/sharp.jpg").map((l) => [l["Outcome"], l["Reason"], l["quality"]]),
      [["skipped", "high-quality", 95]],
    );
    assert.ok(!(await stack.keys()).includes("photos/sharp.restored.jpg"));
  });

  test("an upload marked as a derivative by metadata only is not derived from", async () => {
    const bytes = await makeJpeg(10, 32, 32, 5);
    originals.set("odd/name.jpg", bytes);
    const { PutObjectCommand } = await import("@aws-sdk/client-s3");
    await stack.s3.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: "odd/name.jpg",
        Body: bytes,
        Metadata: { "unjpeg-derivative": "1" },
      }),
    );
    await stack.local.idle();
    assert.deepEqual(
      decisionsFor("odd/name.jpg").map((l) => l["Reason"]),
      ["derivative"],
    );
    assert.ok(!(await stack.keys()).includes("odd/name.restored.jpg"));
  });

  test("an object unjpeg did not write at the derivative's key is never overwritten", async () => {
    const theirs = new TextEncoder().encode("someone else's file");
    originals.set("mine/pic.restored.jpg", theirs);
    await stack.put("mine/pic.restored.jpg", theirs);
    await upload("mine/pic.jpg", await makeJpeg(10, 48, 32, 8));
    assert.equal(decisionsFor("mine/pic.jpg").at(-1)?.["Reason"], "key-taken");
  });

  test("a duplicate event writes nothing new", async () => {
    const before = await head("photos/cat.restored.jpg");
    const event = s3Event("ObjectCreated:Put", "photos/cat.jpg");
    await invoke(event);
    await invoke(event);
    const after = await head("photos/cat.restored.jpg");
    assert.equal(after.LastModified?.getTime(), before.LastModified?.getTime());
    assert.equal(after.ETag, before.ETag);
    const last = decisionsFor("photos/cat.jpg").slice(-2);
    assert.deepEqual(
      last.map((l) => [l["Outcome"], l["Reason"]]),
      [
        ["skipped", "current"],
        ["skipped", "current"],
      ],
    );
  });

  test("two deliveries of one event at the same time write once", async () => {
    const key = "twice/dog.jpg";
    await upload(key, await makeJpeg(10, 64, 48, 77));
    assert.equal(decisionsFor(key).at(-1)?.["Outcome"], "written", "the stack's own event");
    // Remove the derivative, then deliver the event twice at once: one restore, one write.
    const { DeleteObjectCommand } = await import("@aws-sdk/client-s3");
    await stack.s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: "twice/dog.restored.jpg" }));
    await stack.local.idle();
    const event = s3Event("ObjectCreated:Put", key);
    await Promise.all([invoke(event), invoke(event)]);
    const last = decisionsFor(key).slice(-2);
    assert.deepEqual(last.map((l) => `${l["Outcome"]}:${l["Reason"]}`).sort(), [
      "skipped:duplicate",
      "written:none",
    ]);
    assert.equal((await head("twice/dog.restored.jpg")).Metadata?.["unjpeg-derivative"], "1");
  });

  test("keys with spaces, plus signs and unicode", async () => {
    const keys = ["my photos/cat 1.jpg", "c++/a+b.jpg", "fotos/Kätzchen 🐈.jpeg"];
    for (const [i, key] of keys.entries()) await upload(key, await makeJpeg(15, 48, 40, i + 10));
    const all = await stack.keys();
    for (const derivative of [
      "my photos/cat 1.restored.jpg",
      "c++/a+b.restored.jpg",
      "fotos/Kätzchen 🐈.restored.jpeg",
    ]) {
      assert.ok(all.includes(derivative), `${derivative} in ${all.join(", ")}`);
      const meta = (await head(derivative)).Metadata ?? {};
      assert.equal(decodeURIComponent(meta["unjpeg-source-key"] ?? ""), derivative.replace(".restored", ""));
    }
  });

  test("an SQS batch: a non-JPEG, truncated JPEGs and a bad message do not stop the good one", async () => {
    const good = await makeJpeg(12, 160, 120, 21);
    const batch = new Map<string, Uint8Array>([
      ["batch/not.jpg", new TextEncoder().encode("<html>not a jpeg</html>")],
      ["batch/cut-in-headers.jpg", good.subarray(0, 120)],
      ["batch/cut-in-scan.jpg", good.subarray(0, Math.floor(good.byteLength * 0.7))],
      ["batch/good.jpg", good],
    ]);
    // Written without events reaching the handler: the batch below is what delivers them.
    const quiet = await startTestStack();
    try {
      for (const [key, bytes] of batch) await quiet.put(key, bytes);
      const quietDeriver = await testDeriver(quiet);
      const quietHandler = createUploadHandler(quietDeriver, {
        sink: (l) => lines.push(JSON.parse(l) as Line),
      });
      const sqs = (id: string, body: string) => ({ messageId: id, body, eventSource: "aws:sqs" });
      const result = await quietHandler(
        {
          Records: [
            sqs("m-not", JSON.stringify(s3Event("ObjectCreated:Put", "batch/not.jpg"))),
            sqs("m-broken", "{not json"),
            sqs("m-cut1", JSON.stringify(s3Event("ObjectCreated:Put", "batch/cut-in-headers.jpg"))),
            sqs("m-cut2", JSON.stringify(s3Event("ObjectCreated:Put", "batch/cut-in-scan.jpg"))),
            sqs("m-good", JSON.stringify(eventBridgeEvent("batch/good.jpg"))),
          ],
        },
        {} as never,
      );
      assert.deepEqual(result, { batchItemFailures: [{ itemIdentifier: "m-broken" }] });
      assert.deepEqual(
        [...batch.keys()].map((k) => {
          const d = decisionsFor(k).at(-1);
          return [
            k,
            d?.["Outcome"],
            d?.["Reason"],
            /JPEG_TRUNCATED|IMAGE_INVALID/.test(String(d?.["message"])),
          ];
        }),
        [
          ["batch/not.jpg", "skipped", "not-jpeg", false],
          ["batch/cut-in-headers.jpg", "skipped", "unsupported", true],
          ["batch/cut-in-scan.jpg", "skipped", "corrupt", true],
          ["batch/good.jpg", "written", "none", false],
        ],
      );
      for (const [key, bytes] of batch) {
        assert.deepEqual(await quiet.get(key), bytes, `original ${key} changed`);
      }
      assert.deepEqual(
        (await quiet.keys()).filter((k) => k.includes(".restored.")),
        ["batch/good.restored.jpg"],
      );
    } finally {
      await quiet.close();
    }
  });

  test("a newer upload of the same key replaces the derivative; a deletion removes it", async () => {
    const first = await head("photos/cat.restored.jpg");
    await upload("photos/cat.jpg", await makeJpeg(8, 80, 60, 99));
    const second = await head("photos/cat.restored.jpg");
    const sourceHead = await head("photos/cat.jpg");
    assert.notEqual(second.Metadata?.["unjpeg-source-etag"], first.Metadata?.["unjpeg-source-etag"]);
    assert.equal(`"${second.Metadata?.["unjpeg-source-etag"]}"`, sourceHead.ETag);
    assert.equal(decisionsFor("photos/cat.jpg").at(-1)?.["replaced"], true);
    // An out-of-order replay of the old event writes nothing.
    await invoke(s3Event("ObjectCreated:Put", "photos/cat.jpg"));
    assert.equal((await head("photos/cat.restored.jpg")).ETag, second.ETag);

    const { DeleteObjectCommand } = await import("@aws-sdk/client-s3");
    await stack.s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: "photos/cat.jpg" }));
    originals.delete("photos/cat.jpg");
    await stack.local.idle();
    const keys = await stack.keys();
    assert.ok(!keys.includes("photos/cat.restored.jpg"), keys.join(", "));
    assert.deepEqual(decisionsFor("photos/cat.jpg").at(-1)?.["deleted"], ["photos/cat.restored.jpg"]);
  });

  test("every decision is one JSON line that is also an EMF metrics document", () => {
    assert.ok(lines.length > 10);
    for (const line of lines) {
      const aws = line["_aws"] as { CloudWatchMetrics: { Namespace: string; Metrics: { Name: string }[] }[] };
      assert.equal(aws.CloudWatchMetrics[0]?.Namespace, "unjpeg");
      for (const metric of aws.CloudWatchMetrics[0]?.Metrics ?? []) {
        assert.equal(typeof line[metric.Name], "number", metric.Name);
      }
    }
    const written = lines.find((l) => l["Outcome"] === "written");
    assert.ok(typeof written?.["RestoreMs"] === "number" && typeof written?.["BytesWritten"] === "number");
  });
});

function s3Event(eventName: string, key: string) {
  return {
    Records: [
      {
        eventVersion: "2.1",
        eventSource: "aws:s3",
        eventName,
        s3: { bucket: { name: BUCKET }, object: { key: encodeEventKey(key), size: 1, eTag: "old" } },
      },
    ],
  };
}

function eventBridgeEvent(key: string) {
  return {
    version: "0",
    "detail-type": "Object Created",
    source: "aws.s3",
    detail: { bucket: { name: BUCKET }, object: { key: encodeEventKey(key), size: 1, etag: "x" } },
  };
}
