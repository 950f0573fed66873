/**
 * The local page's API (`/_unjpeg/api/...`) on a real stack with UNJPEG_SOURCE_PREFIXES set: it serves,
 * lists and accepts only what the origin itself would serve.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type CdnStack, makeJpeg, startCdnStack } from "./cdn-stack.js";

describe("page API with source prefixes", () => {
  let stack: CdnStack;
  before(async () => {
    stack = await startCdnStack({ env: { UNJPEG_SOURCE_PREFIXES: "photos/,uploads/" }, page: true });
    await stack.put("photos/a.jpg", await makeJpeg(15, 96, 64, 3));
    await stack.put("private/b.jpg", await makeJpeg(15, 96, 64, 4));
    await stack.put("privatephotos/c.jpg", await makeJpeg(15, 96, 64, 5));
  });
  after(() => stack.close());

  test("the page's API applies UNJPEG_SOURCE_PREFIXES like the origin (reliability case 10)", async () => {
    const codeOf = async (response: Response): Promise<string> =>
      ((await response.json()) as { code: string }).code;
    // The origin and the page agree, key by key.
    for (const [key, allowed] of [
      ["photos/a.jpg", true],
      ["private/b.jpg", false],
      ["privatephotos/c.jpg", false],
    ] as const) {
      const original = await fetch(`${stack.url}/_unjpeg/api/original?key=${encodeURIComponent(key)}`);
      const served = await fetch(`${stack.url}/${key}`);
      assert.equal(original.status, allowed ? 200 : 403, key);
      assert.equal(served.status, allowed ? 200 : 403, key);
      if (!allowed) {
        assert.equal(await codeOf(original), "KEY_FORBIDDEN", key);
        assert.equal(await codeOf(served), "KEY_FORBIDDEN", key);
      } else {
        await original.arrayBuffer();
        await served.arrayBuffer();
      }
    }
    const listed = (await (await fetch(`${stack.url}/_unjpeg/api/objects`)).json()) as {
      objects: { key: string }[];
    };
    assert.deepEqual(
      listed.objects.map((object) => object.key),
      ["photos/a.jpg"],
    );
  });
});

describe("page API with prefixes that leave out uploads/", () => {
  let stack: CdnStack;
  before(async () => {
    stack = await startCdnStack({ env: { UNJPEG_SOURCE_PREFIXES: "photos/" }, page: true });
  });
  after(() => stack.close());

  test("an upload the origin would not serve is refused (reliability case 10)", async () => {
    const upload = await fetch(`${stack.url}/_unjpeg/api/upload?name=dog.jpg`, {
      method: "POST",
      body: await makeJpeg(10, 96, 64, 21),
    });
    assert.equal(upload.status, 403);
    assert.equal(((await upload.json()) as { code: string }).code, "KEY_FORBIDDEN");
    const listed = (await (await fetch(`${stack.url}/_unjpeg/api/objects`)).json()) as {
      objects: { key: string }[];
    };
    assert.deepEqual(listed.objects, []);
  });
});
