/** The origin's decisions over an in-memory store (the real S3 path is in tests/integration/cdn-*.test.ts). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import sharp from "sharp";
import { loadConfig } from "../../lib/config.js";
import { createOrigin } from "../../lib/http/origin.js";
import { signUrl } from "../../lib/http/signing.js";
import type { OriginDerive, OriginRequest, OriginStore, StoredObject } from "../../lib/http/types.js";

interface Entry {
  body: Uint8Array;
  etag: string;
  contentType: string;
  metadata: Record<string, string>;
}

/** A real (tiny) JPEG: sources served as they are must decode as images. */
const JPEG = new Uint8Array(
  await sharp({ create: { width: 8, height: 8, channels: 3, background: "#808080" } })
    .jpeg()
    .toBuffer(),
);
const MODEL = "test@1";

function memoryStore(skip?: OriginDerive & { action: "skipped" }) {
  const objects = new Map<string, Entry>();
  let derives = 0;
  let etagCounter = 0;
  const derivativeKey = (key: string, format: string): string =>
    `${key.replace(/\.[^./]*$/, "")}.restored.${format === "jpeg" ? "jpg" : format}`;
  const head = (key: string, entry: Entry): StoredObject => ({
    key,
    eTag: entry.etag,
    versionId: undefined,
    size: entry.body.byteLength,
    contentType: entry.contentType,
    metadata: entry.metadata,
    read: async () => entry.body,
    discard: () => {},
  });
  const store: OriginStore = {
    async headSource(key) {
      const entry = objects.get(key);
      return entry === undefined ? null : head(key, entry);
    },
    async getDerivative(key, format) {
      const dkey = derivativeKey(key, format);
      const entry = objects.get(dkey);
      return entry === undefined ? null : head(dkey, entry);
    },
    async getObject(key) {
      const entry = objects.get(key);
      return entry === undefined ? null : head(key, entry);
    },
    isDerivativeKey: (key) => /\.restored\.[a-z]+$/.test(key),
    isCurrent: (d, s) => d.metadata["unjpeg-source-etag"] === s.eTag && d.metadata["unjpeg-model"] === MODEL,
    async derive({ key, format, signal }) {
      derives += 1;
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (signal.aborted) throw signal.reason;
      if (skip !== undefined) return skip;
      const source = objects.get(key)!;
      const metadata = {
        "unjpeg-derivative": "1",
        "unjpeg-source-etag": source.etag,
        "unjpeg-model": MODEL,
        "unjpeg-quality": "12",
        "unjpeg-ms": "5",
      };
      const body = new Uint8Array([...JPEG, derives]);
      const etag = `"d${++etagCounter}"`;
      objects.set(derivativeKey(key, format), { body, etag, contentType: `image/${format}`, metadata });
      return {
        action: "restored",
        derivativeKey: derivativeKey(key, format),
        body,
        contentType: `image/${format}`,
        metadata,
      };
    },
  };
  const put = (key: string, body: Uint8Array, metadata: Record<string, string> = {}): void => {
    objects.set(key, { body, etag: `"s${++etagCounter}"`, contentType: "image/jpeg", metadata });
  };
  return { store, put, objects, derives: () => derives };
}

const modelStatus = async () => ({ loaded: true, model: MODEL, id: "test", version: "1" });
const get = (path: string, headers: Record<string, string> = {}, method = "GET"): OriginRequest => {
  const [p, q = ""] = path.split("?");
  return { method, path: p!, query: q, headers };
};

describe("origin", () => {
  it("restores once, stores, then serves the stored derivative", async () => {
    const memory = memoryStore();
    memory.put("photos/cat.jpg", JPEG);
    const origin = createOrigin({ config: loadConfig({}), store: memory.store, modelStatus });
    const first = await origin(get("/photos/cat.jpg"));
    assert.equal(first.status, 200);
    assert.equal(first.headers["x-unjpeg-action"], "restored");
    assert.equal(first.headers["content-type"], "image/jpeg");
    assert.equal(first.headers["cache-control"], "public, max-age=31536000");
    assert.equal(first.headers["x-unjpeg-model"], MODEL);
    assert.equal(first.storedKey, "photos/cat.restored.jpg");
    const second = await origin(get("/photos/cat.jpg"));
    assert.equal(second.headers["x-unjpeg-action"], "hit");
    assert.equal(second.headers["etag"], first.headers["etag"]);
    assert.deepEqual(second.body, first.body);
    assert.equal(memory.derives(), 1);

    const notModified = await origin(get("/photos/cat.jpg", { "if-none-match": first.headers["etag"]! }));
    assert.equal(notModified.status, 304);
    assert.equal(notModified.body, undefined);

    memory.put("photos/cat.jpg", new Uint8Array([...JPEG, 9])); // a new upload: new ETag
    const third = await origin(get("/photos/cat.jpg"));
    assert.equal(third.headers["x-unjpeg-action"], "restored");
    assert.notEqual(third.headers["etag"], first.headers["etag"]);
    assert.equal(memory.derives(), 2);
  });

  it("UNJPEG_REVALIDATE_SECONDS: within the window a remembered derivative is served without a HEAD", async () => {
    const memory = memoryStore();
    let heads = 0;
    const store = {
      ...memory.store,
      headSource: (key: string) => {
        heads += 1;
        return memory.store.headSource(key);
      },
    };
    let clock = 1_000_000;
    memory.put("w.jpg", JPEG);
    const config = loadConfig({ UNJPEG_REVALIDATE_SECONDS: "10" });
    const origin = createOrigin({ config, store, modelStatus, clockMs: () => clock });
    const first = await origin(get("/w.jpg"));
    assert.equal(first.headers["x-unjpeg-action"], "restored");
    const headsAfterFirst = heads;
    clock += 9_000;
    memory.put("w.jpg", new Uint8Array([...JPEG, 7])); // changed, but inside the window
    const stale = await origin(get("/w.jpg"));
    assert.equal(stale.headers["x-unjpeg-action"], "hit");
    assert.equal(
      stale.headers["etag"],
      first.headers["etag"],
      "the documented staleness: the old derivative",
    );
    assert.equal(heads, headsAfterFirst, "no HEAD inside the window");
    clock += 1_001; // the window since the first check is over
    const fresh = await origin(get("/w.jpg"));
    assert.equal(fresh.headers["x-unjpeg-action"], "restored");
    assert.notEqual(fresh.headers["etag"], first.headers["etag"]);
    assert.equal(memory.derives(), 2);
  });

  it("by default every request checks the source, even right after a hit", async () => {
    const memory = memoryStore();
    memory.put("d.jpg", JPEG);
    const origin = createOrigin({
      config: loadConfig({}),
      store: memory.store,
      modelStatus,
      clockMs: () => 0,
    });
    await origin(get("/d.jpg"));
    assert.equal((await origin(get("/d.jpg"))).headers["x-unjpeg-action"], "hit");
    memory.put("d.jpg", new Uint8Array([...JPEG, 8]));
    assert.equal((await origin(get("/d.jpg"))).headers["x-unjpeg-action"], "restored");
  });

  it("shares one restoration between concurrent misses", async () => {
    const memory = memoryStore();
    memory.put("a.jpg", JPEG);
    const origin = createOrigin({ config: loadConfig({}), store: memory.store, modelStatus });
    const responses = await Promise.all(Array.from({ length: 10 }, () => origin(get("/a.jpg"))));
    assert.ok(responses.every((r) => r.status === 200));
    assert.equal(memory.derives(), 1);
  });

  it("negotiates format=auto with Vary: Accept", async () => {
    const memory = memoryStore();
    memory.put("a.jpg", JPEG);
    const origin = createOrigin({ config: loadConfig({}), store: memory.store, modelStatus });
    const response = await origin(get("/a.jpg?format=auto", { accept: "image/webp,*/*" }));
    assert.equal(response.headers["content-type"], "image/webp");
    assert.equal(response.headers["vary"], "Accept");
    assert.ok(memory.objects.has("a.restored.webp"));
    const plain = await origin(get("/a.jpg?format=webp"));
    assert.equal(plain.headers["vary"], undefined);
  });

  it("answers errors as JSON with a code and the right status and cache header", async () => {
    const memory = memoryStore();
    memory.put("a.jpg", JPEG);
    memory.put("a.restored.jpg", JPEG, { "unjpeg-derivative": "1" });
    memory.put("odd.jpg", JPEG, { "unjpeg-derivative": "1" });
    const config = loadConfig({ UNJPEG_SOURCE_PREFIXES: "a,odd", UNJPEG_MAX_BYTES: "100" });
    memory.put("a-big.jpg", new Uint8Array(101));
    const origin = createOrigin({ config, store: memory.store, modelStatus });
    const cases: [string, number, string, string][] = [
      ["/nope/x.jpg", 403, "KEY_FORBIDDEN", "no-store"],
      ["/a/../b.jpg", 400, "BAD_KEY", "public, max-age=60"],
      ["/a.jpg?width=3", 400, "BAD_PARAMETER", "public, max-age=60"],
      ["/a-missing.jpg", 404, "NOT_FOUND", "public, max-age=60"],
      ["/a.restored.jpg", 400, "DERIVATIVE_KEY", "public, max-age=60"],
      ["/odd.jpg", 400, "DERIVATIVE_KEY", "public, max-age=60"],
      ["/a-big.jpg", 413, "TOO_LARGE", "public, max-age=60"],
      ["/_unjpeg/", 404, "NOT_FOUND", "public, max-age=60"],
    ];
    for (const [path, status, code, cache] of cases) {
      const response = await origin(get(path));
      assert.equal(response.status, status, path);
      assert.equal(response.headers["content-type"], "application/json; charset=utf-8");
      assert.equal(response.headers["cache-control"], cache, path);
      assert.equal(JSON.parse(new TextDecoder().decode(response.body)).code, code, path);
    }
    const post = await origin(get("/a.jpg", {}, "POST"));
    assert.equal(post.status, 405);
  });

  it("maps skip reasons: not a JPEG → 415, too large → 413, high quality → the source as it is", async () => {
    for (const [reason, status] of [
      ["not-jpeg", 415],
      ["too-large", 413],
    ] as const) {
      const memory = memoryStore({ action: "skipped", reason, message: "m", quality: null });
      memory.put("a.jpg", JPEG);
      const response = await createOrigin({ config: loadConfig({}), store: memory.store, modelStatus })(
        get("/a.jpg"),
      );
      assert.equal(response.status, status);
    }
    const memory = memoryStore({
      action: "skipped",
      reason: "high-quality",
      message: "q95",
      quality: 95,
    });
    memory.put("a.jpg", JPEG);
    const origin = createOrigin({ config: loadConfig({}), store: memory.store, modelStatus });
    const response = await origin(get("/a.jpg"));
    assert.equal(response.status, 200);
    assert.equal(response.headers["x-unjpeg-action"], "skipped");
    assert.equal(response.headers["x-unjpeg-skip-reason"], "high-quality");
    assert.equal(response.headers["x-unjpeg-quality"], "95");
    assert.deepEqual(response.body, JPEG);
    assert.equal(response.storedKey, "a.jpg");
  });

  it("requires a valid signature when keys are configured", async () => {
    const memory = memoryStore();
    memory.put("a.jpg", JPEG);
    let clock = 1000;
    const origin = createOrigin({
      config: loadConfig({ UNJPEG_SIGNING_KEYS: "new,old" }),
      store: memory.store,
      modelStatus,
      now: () => clock,
    });
    const codeOf = async (url: string): Promise<string> => {
      const response = await origin(get(url));
      return response.status === 200 ? "OK" : JSON.parse(new TextDecoder().decode(response.body)).code;
    };
    assert.equal(await codeOf("/a.jpg"), "SIGNATURE_MISSING");
    assert.equal(await codeOf(signUrl("/a.jpg", { key: "old" })), "OK");
    assert.equal(await codeOf(signUrl("/a.jpg", { key: "other" })), "SIGNATURE_INVALID");
    const expiring = signUrl("/a.jpg?format=jpeg", { key: "new", expires: 1010 });
    assert.equal(await codeOf(expiring), "OK");
    clock = 1011;
    assert.equal(await codeOf(expiring), "SIGNATURE_EXPIRED");
    assert.equal((await origin(get("/_unjpeg/health"))).status, 200);
  });

  it("answers 503 with Retry-After when a restoration times out, and HEAD without a body", async () => {
    const memory = memoryStore();
    memory.put("a.jpg", JPEG);
    const slow = createOrigin({
      config: loadConfig({}),
      store: memory.store,
      modelStatus,
      restoreTimeoutMs: 1,
    });
    const response = await slow(get("/a.jpg"));
    assert.equal(response.status, 503);
    assert.equal(response.headers["retry-after"], "5");
    assert.equal(response.headers["cache-control"], "no-store");
    const origin = createOrigin({ config: loadConfig({}), store: memory.store, modelStatus });
    const head = await origin(get("/a.jpg", {}, "HEAD"));
    assert.equal(head.status, 200);
    assert.equal(head.body, undefined);
    assert.equal(Number(head.headers["content-length"]) > 0, true);
  });
});
