/**
 * The CDN origin against a real s3rver, the real storage core and lib/restore with the small test model,
 * through the local HTTP adapter (payload-2.0 events, as in Lambda) and through the Lambda handler itself.
 */
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { after, before, describe, it } from "node:test";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import sharp from "sharp";
import { createCdnOriginHandler } from "../../handlers/cdn-origin.js";
import { createOriginApp } from "../../lib/http/app.js";
import { signUrl } from "../../lib/http/signing.js";
import { photoLike, resaved } from "../unit/resave-tools.js";
import { BUCKET, type CdnStack, functionUrlEvent, makeJpeg, startCdnStack } from "./cdn-stack.js";

/** A GET with the path exactly as given (no URL normalisation). */
function rawGet(url: string): Promise<{ status: number; body: string }> {
  const { host, port, pathname } = new URL(url);
  const path = url.slice(url.indexOf(pathname.startsWith("/") ? "/" : "", `http://${host}`.length));
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: host.split(":")[0], port, path, method: "GET" }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => {
        body += chunk;
      });
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on("error", reject);
    request.end();
  });
}

const bytesOf = async (response: Response): Promise<Uint8Array> =>
  new Uint8Array(await response.arrayBuffer());
const codeOf = async (response: Response): Promise<string> => {
  assert.equal(response.headers.get("content-type"), "application/json; charset=utf-8");
  return ((await response.json()) as { code: string }).code;
};

describe("CDN origin on s3rver", () => {
  let stack: CdnStack;
  before(async () => {
    stack = await startCdnStack({ env: { UNJPEG_MAX_BYTES: "200000", UNJPEG_MAX_PIXELS: "100000" } });
  });
  after(() => stack.close());

  it("restores and stores on the first request, serves the stored derivative after (no second restore)", async () => {
    await stack.put("photos/cat.jpg", await makeJpeg(10));
    const first = await fetch(`${stack.url}/photos/cat.jpg`);
    assert.equal(first.status, 200);
    assert.equal(first.headers.get("x-unjpeg-action"), "restored");
    assert.equal(first.headers.get("content-type"), "image/jpeg");
    assert.equal(first.headers.get("x-unjpeg-quality"), "10");
    assert.equal(first.headers.get("x-unjpeg-model"), "model-random@0.0.0-random");
    assert.equal(first.headers.get("cache-control"), "public, max-age=31536000");
    const restored = await bytesOf(first);
    assert.equal(stack.restores(), 1);
    const head = await stack.s3.send(
      new HeadObjectCommand({ Bucket: BUCKET, Key: "photos/cat.restored.jpg" }),
    );
    assert.equal(head.Metadata?.["unjpeg-derivative"], "1");
    assert.equal(head.Metadata?.["unjpeg-model"], "model-random@0.0.0-random");
    assert.equal(head.ContentLength, restored.byteLength);

    const second = await fetch(`${stack.url}/photos/cat.jpg`);
    assert.equal(second.headers.get("x-unjpeg-action"), "hit");
    assert.equal(second.headers.get("etag"), first.headers.get("etag"));
    assert.deepEqual(await bytesOf(second), restored);
    assert.equal(stack.restores(), 1);
    // A fresh process (no derivatives in memory) serves the one stored in S3.
    const fresh = await createOriginApp(stack.config, { deriver: stack.deriver, hotCacheBytes: 0 });
    const third = await fresh.origin({ method: "GET", path: "/photos/cat.jpg", query: "", headers: {} });
    assert.equal(third.headers["x-unjpeg-action"], "hit");
    assert.equal(third.headers["etag"], first.headers.get("etag"));
    assert.deepEqual(third.body, restored);
    assert.equal(third.storedKey, "photos/cat.restored.jpg");
    assert.equal(stack.restores(), 1);
    const { width, height } = await sharp(restored).metadata();
    assert.deepEqual([width, height], [96, 64]);
  });

  it("answers 304 to a matching If-None-Match, without a body", async () => {
    const etag = (await fetch(`${stack.url}/photos/cat.jpg`)).headers.get("etag")!;
    const response = await fetch(`${stack.url}/photos/cat.jpg`, { headers: { "if-none-match": etag } });
    assert.equal(response.status, 304);
    assert.equal((await response.arrayBuffer()).byteLength, 0);
    const other = await fetch(`${stack.url}/photos/cat.jpg`, { headers: { "if-none-match": '"other"' } });
    assert.equal(other.status, 200);
  });

  it("restores again when the source changes", async () => {
    const before = await fetch(`${stack.url}/photos/cat.jpg`);
    await before.arrayBuffer();
    const restoresBefore = stack.restores();
    await stack.put("photos/cat.jpg", await makeJpeg(12, 96, 64, 7));
    const fresh = await fetch(`${stack.url}/photos/cat.jpg`);
    assert.equal(fresh.headers.get("x-unjpeg-action"), "restored");
    assert.equal(fresh.headers.get("x-unjpeg-quality"), "12");
    assert.notEqual(fresh.headers.get("etag"), before.headers.get("etag"));
    await fresh.arrayBuffer();
    assert.equal(stack.restores(), restoresBefore + 1);
    const again = await fetch(`${stack.url}/photos/cat.jpg`);
    assert.equal(again.headers.get("x-unjpeg-action"), "hit");
    await again.arrayBuffer();
  });

  it("stores one derivative per format; format=auto negotiates with Vary: Accept; quality re-encodes", async () => {
    const auto = await fetch(`${stack.url}/photos/cat.jpg?format=auto`, {
      headers: { accept: "image/webp,*/*" },
    });
    assert.equal(auto.status, 200);
    assert.equal(auto.headers.get("content-type"), "image/webp");
    assert.equal(auto.headers.get("vary"), "Accept");
    assert.equal((await sharp(await bytesOf(auto)).metadata()).format, "webp");
    await stack.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "photos/cat.restored.webp" }));
    const restores = stack.restores();
    const lower = await fetch(`${stack.url}/photos/cat.jpg?quality=30`);
    assert.equal(lower.headers.get("x-unjpeg-action"), "hit");
    const stored = await bytesOf(await fetch(`${stack.url}/photos/cat.jpg`));
    assert.ok((await bytesOf(lower)).byteLength < stored.byteLength);
    assert.equal(stack.restores(), restores);
  });

  it("serves a high-quality source as it is, saying why", async () => {
    const source = await makeJpeg(95);
    await stack.put("photos/fine.jpg", source);
    const response = await fetch(`${stack.url}/photos/fine.jpg`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("x-unjpeg-action"), "skipped");
    assert.equal(response.headers.get("x-unjpeg-skip-reason"), "high-quality");
    assert.deepEqual(await bytesOf(response), source);
    const asWebp = await fetch(`${stack.url}/photos/fine.jpg?format=webp`);
    assert.equal(asWebp.headers.get("content-type"), "image/webp");
    assert.equal((await sharp(await bytesOf(asWebp)).metadata()).format, "webp");
  });

  it("restores a high-quality source re-saved from a low-quality one, recording the earlier quality", async () => {
    await stack.put("photos/resaved.jpg", await resaved(photoLike(256, 192, 8), 10, 95, [4, 1]));
    const response = await fetch(`${stack.url}/photos/resaved.jpg`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("x-unjpeg-action"), "restored");
    assert.equal(response.headers.get("x-unjpeg-quality"), "95");
    await response.arrayBuffer();
    const head = await stack.s3.send(
      new HeadObjectCommand({ Bucket: BUCKET, Key: "photos/resaved.restored.jpg" }),
    );
    assert.ok(Math.abs(Number(head.Metadata?.["unjpeg-earlier-quality"]) - 10) <= 5);
  });

  it("applies EXIF orientation: restored and transcoded images come out upright", async () => {
    const rotate = async (quality: number) =>
      new Uint8Array(
        await sharp(await makeJpeg(quality, 96, 64, 9))
          .withMetadata({ orientation: 6 })
          .jpeg({ quality })
          .toBuffer(),
      );
    await stack.put("photos/rotated-low.jpg", await rotate(10));
    await stack.put("photos/rotated-high.jpg", await rotate(95));
    for (const [path, action] of [
      ["/photos/rotated-low.jpg", "restored"],
      ["/photos/rotated-high.jpg?format=webp", "skipped"],
    ] as const) {
      const response = await fetch(`${stack.url}${path}`);
      assert.equal(response.headers.get("x-unjpeg-action"), action, path);
      const { width, height, orientation } = await sharp(await bytesOf(response)).metadata();
      assert.deepEqual([width, height], [64, 96], path);
      assert.ok(orientation === undefined || orientation === 1, `${path}: orientation ${orientation}`);
    }
  });

  it("answers each error with its status and a JSON code", async () => {
    await stack.put("photos/not-an-image.jpg", new TextEncoder().encode("hello, not a JPEG"), "image/jpeg");
    await stack.put("photos/huge.jpg", new Uint8Array(200_001));
    await stack.put("photos/many-pixels.jpg", await makeJpeg(10, 400, 300)); // 120,000 pixels, a few KB
    const truncated = (await makeJpeg(10)).subarray(0, 400);
    await stack.put("photos/truncated.jpg", truncated);
    const cases: [string, number, string][] = [
      ["/photos/missing.jpg", 404, "NOT_FOUND"],
      ["/photos/not-an-image.jpg", 415, "NOT_JPEG"],
      ["/photos/huge.jpg", 413, "TOO_LARGE"],
      ["/photos/many-pixels.jpg", 413, "TOO_LARGE"],
      ["/photos/cat.restored.jpg", 400, "DERIVATIVE_KEY"],
      ["/photos/a%5Cb.jpg", 400, "BAD_KEY"],
      ["/photos/cat.jpg?width=10", 400, "BAD_PARAMETER"],
      ["/photos/cat.jpg?format=gif", 400, "BAD_PARAMETER"],
    ];
    for (const [path, status, code] of cases) {
      const response = await fetch(`${stack.url}${path}`);
      assert.equal(response.status, status, path);
      assert.equal(await codeOf(response), code, path);
    }
    // fetch() would resolve dot segments itself: send the raw path as an attacker would.
    for (const path of ["/photos/../private/x.jpg", "/photos/%2e%2e/x.jpg", "/photos//x.jpg"]) {
      const raw = await rawGet(`${stack.url}${path}`);
      assert.equal(raw.status, 400, path);
      assert.equal(JSON.parse(raw.body).code, "BAD_KEY", path);
    }
    const bad = await fetch(`${stack.url}/photos/truncated.jpg`);
    assert.equal(bad.status, 415, await bad.clone().text());
    const post = await fetch(`${stack.url}/photos/cat.jpg`, { method: "POST", body: "x" });
    assert.equal(post.status, 405);
  });

  it("reports the model in /_unjpeg/health and redirects / to the page path", async () => {
    const health = await fetch(`${stack.url}/_unjpeg/health`);
    assert.equal(health.status, 200);
    const body = (await health.json()) as {
      ok: boolean;
      model: { loaded: boolean; id: string; version: string };
    };
    assert.deepEqual(
      [body.ok, body.model.loaded, body.model.id, body.model.version],
      [true, true, "model-random", "0.0.0-random"],
    );
    const root = await fetch(`${stack.url}/`, { redirect: "manual" });
    assert.equal(root.status, 302);
    assert.equal(root.headers.get("location"), "/_unjpeg/");
  });

  it("runs as a Lambda handler: base64 body in payload 2.0, presigned redirect over the size limit", async () => {
    const context = { getRemainingTimeInMillis: () => 30_000 } as never;
    const handler = createCdnOriginHandler(stack.app);
    const result = (await handler(functionUrlEvent("/photos/cat.jpg"), context)) as {
      statusCode: number;
      body: string;
      isBase64Encoded: boolean;
      headers: Record<string, string>;
    };
    assert.equal(result.statusCode, 200);
    assert.equal(result.isBase64Encoded, true);
    const stored = await bytesOf(await fetch(`${stack.url}/photos/cat.jpg`));
    assert.deepEqual(new Uint8Array(Buffer.from(result.body, "base64")), stored);

    const small = createCdnOriginHandler(stack.app, { maxBodyBytes: 1000 });
    const redirect = (await small(functionUrlEvent("/photos/cat.jpg"), context)) as {
      statusCode: number;
      headers: Record<string, string>;
    };
    assert.equal(redirect.statusCode, 302);
    assert.match(redirect.headers["location"]!, /photos\/cat\.restored\.jpg\?.*X-Amz-Signature=/);
    assert.deepEqual(await bytesOf(await fetch(redirect.headers["location"]!)), stored);
  });
});

describe("CDN origin with signing keys, prefixes and back-pressure", () => {
  let stack: CdnStack;
  before(async () => {
    stack = await startCdnStack({
      env: { UNJPEG_SIGNING_KEYS: "new-key,old-key", UNJPEG_SOURCE_PREFIXES: "photos/" },
      concurrency: 1,
      maxQueued: 0,
    });
    await stack.put("photos/a.jpg", await makeJpeg(15, 96, 64, 3));
    await stack.put("photos/b.jpg", await makeJpeg(15, 96, 64, 4));
    await stack.put("private/c.jpg", await makeJpeg(15, 96, 64, 5));
  });
  after(() => stack.close());

  it("accepts URLs signed by any configured key and refuses the rest with 403", async () => {
    const ok = await fetch(`${stack.url}${signUrl("/photos/a.jpg", { key: "old-key" })}`);
    assert.equal(ok.status, 200);
    await ok.arrayBuffer();
    const now = Math.floor(Date.now() / 1000);
    const cases: [string, string][] = [
      ["/photos/a.jpg", "SIGNATURE_MISSING"],
      [signUrl("/photos/a.jpg", { key: "stranger" }), "SIGNATURE_INVALID"],
      [
        signUrl("/photos/a.jpg?format=jpeg", { key: "new-key" }).replace("format=jpeg", "format=webp"),
        "SIGNATURE_INVALID",
      ],
      [signUrl("/photos/a.jpg", { key: "new-key", expires: now - 10 }), "SIGNATURE_EXPIRED"],
      [signUrl("/private/c.jpg", { key: "new-key" }), "KEY_FORBIDDEN"],
    ];
    for (const [path, code] of cases) {
      const response = await fetch(`${stack.url}${path}`);
      assert.equal(response.status, 403, path);
      assert.equal(response.headers.get("cache-control"), "no-store");
      assert.equal(await codeOf(response), code, path);
    }
    const valid = await fetch(
      `${stack.url}${signUrl("/photos/a.jpg", { key: "new-key", expires: now + 60 })}`,
    );
    assert.equal(valid.status, 200);
    await valid.arrayBuffer();
  });

  it("answers 503 with Retry-After when more restorations arrive than it can take", async () => {
    const [one, two] = await Promise.all([
      fetch(`${stack.url}${signUrl("/photos/b.jpg", { key: "new-key" })}`),
      fetch(`${stack.url}${signUrl("/photos/b.jpg?format=webp", { key: "new-key" })}`),
    ]);
    const statuses = [one.status, two.status].sort();
    assert.deepEqual(statuses, [200, 503]);
    const refused = one.status === 503 ? one : two;
    assert.equal(refused.headers.get("retry-after"), "5");
    assert.equal(await codeOf(refused), "OVERLOADED");
    await (one.status === 200 ? one : two).arrayBuffer();
  });
});
