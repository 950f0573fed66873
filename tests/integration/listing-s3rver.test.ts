/**
 * Every bucket lister goes through lib/storage/listing.ts (V1 markers). On s3rver a ListObjectsV2 page
 * past the first 1,000 keys fails (its continuation tokens use DES, refused by OpenSSL 3): here the test
 * helper and the page's source list both see keys beyond the first page.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { forEachConcurrent } from "../../lib/backfill/pool.js";
import { createS3PageStore } from "../../lib/http/s3-store.js";
import type { OriginStore } from "../../lib/http/types.js";
import { BUCKET, listKeys, makeJpeg, putBytes, startTestStack, type TestStack } from "./upload-helpers.js";

const FILLER = 1_050;
let stack: TestStack;
before(async () => {
  stack = await startTestStack();
  const note = new TextEncoder().encode("not a photo");
  await forEachConcurrent(
    Array.from({ length: FILLER }, (_, i) => i),
    16,
    async (i) => {
      await putBytes(stack.s3, `a/${String(i).padStart(5, "0")}.txt`, note, "text/plain");
    },
  );
  // Sorts after every filler key: only a listing that pages past 1,000 keys finds it.
  await putBytes(stack.s3, "z/photo.jpg", await makeJpeg(30, 16, 16));
});
after(() => stack?.close());

test("listKeys pages past 1,000 keys", async () => {
  const keys = await listKeys(stack.s3);
  assert.equal(keys.length, FILLER + 1);
  assert.equal(keys.at(-1), "z/photo.jpg");
});

test("the page's source list pages past 1,000 keys", async () => {
  // The origin is not called by listSources; the page store only keeps it for getObject.
  const store = createS3PageStore({ s3: stack.s3, config: stack.config }, BUCKET, {} as OriginStore);
  assert.deepEqual(await store.listSources(10, []), [
    { key: "z/photo.jpg", size: (await makeJpeg(30, 16, 16)).length },
  ]);
});
