import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HttpError } from "../../lib/http/errors.js";
import { createPageRoutes, loadPageAssets, type PageStore, safeName } from "../../lib/http/page-routes.js";

const JPEG = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16]);

function fakeStore() {
  const puts: [string, number][] = [];
  const store: PageStore = {
    listSources: async () => [{ key: "a.jpg", size: 6 }],
    putSource: async (key, body) => {
      puts.push([key, body.byteLength]);
    },
    getObject: async () => null,
    isDerivativeKey: (key) => key.includes(".restored."),
  };
  return { store, puts };
}

const post = (endpoint: string, query: [string, string][], body?: Uint8Array) => ({
  request: {
    method: "POST",
    path: `/_unjpeg/api/${endpoint}`,
    query: "",
    headers: {},
    ...(body ? { body } : {}),
  },
  target: { kind: "api" as const, endpoint, query },
});

const codeOf = async (run: () => Promise<unknown>): Promise<[number, string]> => {
  try {
    await run();
  } catch (error) {
    assert.ok(error instanceof HttpError);
    return [error.status, error.code];
  }
  assert.fail("expected a refusal");
};

describe("page routes", () => {
  it("serves the page's files from memory with their types", async () => {
    const routes = createPageRoutes(fakeStore().store, await loadPageAssets(), 1000);
    const get = (asset: string) =>
      routes({ method: "GET", path: `/_unjpeg/${asset}`, query: "", headers: {} }, { kind: "page", asset });
    const html = await get("index.html");
    assert.equal(html.headers["content-type"], "text/html; charset=utf-8");
    assert.match(new TextDecoder().decode(html.body), /<script type="module" src="\/_unjpeg\/page\.js">/);
    assert.equal((await get("page.js")).headers["content-type"], "text/javascript; charset=utf-8");
    assert.deepEqual(await codeOf(() => get("secret.txt")), [404, "NOT_FOUND"]);
  });

  it("stores uploads under uploads/ and refuses what is not a JPEG", async () => {
    const { store, puts } = fakeStore();
    const routes = createPageRoutes(store, new Map(), 100);
    const ok = post("upload", [["name", "../../etc/My Photo?.JPG"]], JPEG);
    const response = await routes(ok.request, ok.target);
    assert.equal(response.status, 201);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(response.body)), { key: "uploads/My Photo-.JPG" });
    assert.deepEqual(puts, [["uploads/My Photo-.JPG", 6]]);
    const png = post("upload", [["name", "x.jpg"]], new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0]));
    assert.deepEqual(await codeOf(() => routes(png.request, png.target)), [415, "NOT_JPEG"]);
    const empty = post("upload", [["name", "x.jpg"]]);
    assert.deepEqual(await codeOf(() => routes(empty.request, empty.target)), [400, "EMPTY_UPLOAD"]);
    const big = post("upload", [["name", "x.jpg"]], new Uint8Array(101).fill(0xff));
    assert.deepEqual(await codeOf(() => routes(big.request, big.target)), [413, "TOO_LARGE"]);
    const derivative = post("upload", [["name", "x.restored.jpg"]], JPEG);
    assert.deepEqual(await codeOf(() => routes(derivative.request, derivative.target)), [
      400,
      "DERIVATIVE_KEY",
    ]);
    const list = post("objects", []);
    const listed = await routes(list.request, list.target);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(listed.body)), {
      objects: [{ key: "a.jpg", size: 6 }],
    });
  });

  it("reduces upload names to one safe key segment", () => {
    assert.equal(safeName("photo.jpg"), "photo.jpg");
    assert.equal(safeName("a/b\\c.jpeg"), "c.jpeg");
    assert.equal(safeName("..hidden.jpg"), "hidden.jpg");
    assert.equal(safeName("weird\u0000name<>.png"), "weirdname--.png.jpg");
    assert.equal(safeName(""), "upload.jpg");
    assert.equal(safeName("猫.jpg"), "猫.jpg");
  });
});
