/**
 * Keys a derivative cannot have: over S3's 1,024 bytes (reliability case 9: a 1,016-byte source key gives
 * a 1,025-byte derivative key). Refused as a typed skip before any read or model run, in the core and in
 * the upload handler, on a real s3rver.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { restore as realRestore } from "../../lib/restore/restore.js";
import { type Deriver, deriveObject } from "../../lib/storage/derive.js";
import { derivativeKey, encodeEventKey } from "../../lib/storage/keys.js";
import { handleUploadEvent } from "../../lib/storage/upload.js";
import { startCdnStack } from "./cdn-stack.js";
import { BUCKET, makeJpeg, startTestStack, type TestStack, testDeriver } from "./upload-helpers.js";

let stack: TestStack;
let deriver: Deriver;
let restores = 0;
before(async () => {
  stack = await startTestStack();
  deriver = await testDeriver(stack, {
    restore: (input, options) => {
      restores++;
      return realRestore(input, options);
    },
  });
});
after(() => stack?.close());

/** A key of exactly `bytes` UTF-8 bytes, in folders of 200 bytes (each fits any file system). */
function keyOfBytes(bytes: number, name = "cat.jpg"): string {
  let key = "";
  while (bytes - key.length - name.length > 201) key += `${"d".repeat(200)}/`;
  return `${key}${"e".repeat(bytes - key.length - name.length)}${name}`;
}

test("derive: a derivative key over S3's 1,024 bytes is a key-too-long skip before the model runs (reliability case 9)", async () => {
  const key = keyOfBytes(1016);
  assert.equal(Buffer.byteLength(key), 1016);
  assert.equal(Buffer.byteLength(derivativeKey(key, "jpeg", stack.config)), 1025);
  await stack.put(key, await makeJpeg(10));
  restores = 0;
  const outcome = await deriveObject(deriver, { bucket: BUCKET, key });
  assert.equal(outcome.action, "skipped");
  if (outcome.action === "skipped") {
    assert.equal(outcome.reason, "key-too-long");
    assert.match(outcome.message, /1025 bytes.*1024/);
  }
  assert.equal(outcome.bytesRead, 0, "refused before reading the source");
  assert.equal(restores, 0, "the model never ran");
  assert.deepEqual(
    (await stack.keys()).filter((k) => k.includes(".restored.")),
    [],
    "no derivative written",
  );
  // One byte shorter fits: the limit is S3's, not a margin of our own.
  const fits = keyOfBytes(1015);
  await stack.put(fits, await makeJpeg(10));
  assert.equal((await deriveObject(deriver, { bucket: BUCKET, key: fits })).action, "written");
});

test("upload handler: an upload whose derivative key would be over 1,024 bytes is logged as a key-too-long skip (reliability case 9)", async () => {
  const key = keyOfBytes(1020, "dog.jpeg");
  await stack.put(key, await makeJpeg(10));
  restores = 0;
  const event = {
    Records: [
      {
        eventSource: "aws:s3",
        eventName: "ObjectCreated:Put",
        s3: { bucket: { name: BUCKET }, object: { key: encodeEventKey(key), size: 1 } },
      },
    ],
  };
  const result = await handleUploadEvent(deriver, event, { sink: () => undefined });
  assert.deepEqual(result.failed, []);
  assert.deepEqual(
    result.decisions.map((d) => [d.action, d.reason]),
    [["skipped", "key-too-long"]],
  );
  assert.equal(restores, 0);
});

test("CDN origin: a source whose derivative key would be over 1,024 bytes is served as it is, never restored (reliability case 9)", async () => {
  const cdn = await startCdnStack();
  try {
    const key = keyOfBytes(1016);
    const source = await makeJpeg(10);
    await cdn.put(key, source);
    const path = `/${key.split("/").map(encodeURIComponent).join("/")}`;
    const response = await fetch(`${cdn.url}${path}`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("x-unjpeg-action"), "skipped");
    assert.equal(response.headers.get("x-unjpeg-skip-reason"), "key-too-long");
    assert.deepEqual(new Uint8Array(await response.arrayBuffer()), source);
    assert.equal(cdn.restores(), 0);
  } finally {
    await cdn.close();
  }
});

test("CDN origin: an object at the derivative key without unjpeg's metadata is never served as the restoration (reliability case 8)", async () => {
  const cdn = await startCdnStack();
  try {
    const foreign = new TextEncoder().encode("half of a derivative, no metadata");
    await cdn.put("half/cat.restored.jpg", foreign);
    await cdn.put("half/cat.jpg", await makeJpeg(10));
    const response = await fetch(`${cdn.url}/half/cat.jpg`);
    assert.equal(response.status, 409);
    assert.equal(((await response.json()) as { code: string }).code, "DERIVATIVE_KEY_TAKEN");
    assert.equal(cdn.restores(), 0);
  } finally {
    await cdn.close();
  }
});
