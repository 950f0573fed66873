/** Payload 2.0 translation, the Lambda response limits, and the middy handler in both invoke modes. */
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import { createCdnOriginHandler } from "../../handlers/cdn-origin.js";
import type { Origin } from "../../lib/http/origin.js";
import {
  type HttpEventV2,
  limitResponse,
  requestFromEvent,
  resultFromResponse,
} from "../../lib/http/payload.js";
import type { OriginRequest, OriginResponse } from "../../lib/http/types.js";

const event = (rawPath: string, extra: Partial<HttpEventV2> = {}): HttpEventV2 => ({
  version: "2.0",
  rawPath,
  rawQueryString: "format=webp",
  headers: { Accept: "image/webp", "if-none-match": '"x"' },
  isBase64Encoded: false,
  requestContext: { http: { method: "get" } },
  ...extra,
});

const image = (size: number, storedKey?: string): OriginResponse => ({
  status: 200,
  headers: { "content-type": "image/jpeg", "x-unjpeg-action": "hit", vary: "Accept" },
  body: new Uint8Array(size).fill(7),
  ...(storedKey === undefined ? {} : { storedKey }),
});

describe("payload 2.0", () => {
  it("turns an event into an origin request", () => {
    const request = requestFromEvent(event("/photos/a%20b.jpg", { body: "aGk=", isBase64Encoded: true }));
    assert.equal(request.method, "GET");
    assert.equal(request.path, "/photos/a%20b.jpg");
    assert.equal(request.query, "format=webp");
    assert.equal(request.headers["accept"], "image/webp");
    assert.deepEqual(request.body, new TextEncoder().encode("hi"));
  });

  it("encodes bodies as base64 and redirects stored objects over the limit", async () => {
    const small = await resultFromResponse(image(10), { maxBodyBytes: 100 });
    assert.equal(small.statusCode, 200);
    assert.equal(small.isBase64Encoded, true);
    assert.deepEqual(Buffer.from(small.body!, "base64"), Buffer.alloc(10, 7));
    const presigned: string[] = [];
    const presign = async (key: string) => {
      presigned.push(key);
      return `https://s3.example/${key}?X-Amz-Signature=abc`;
    };
    const big = await resultFromResponse(image(101, "photos/a.restored.jpg"), { maxBodyBytes: 100, presign });
    assert.equal(big.statusCode, 302);
    assert.equal(big.headers["location"], "https://s3.example/photos/a.restored.jpg?X-Amz-Signature=abc");
    assert.equal(big.headers["cache-control"], "public, max-age=300");
    assert.equal(big.headers["vary"], "Accept");
    assert.equal(big.body, undefined);
    assert.deepEqual(presigned, ["photos/a.restored.jpg"]);
    const raw = await limitResponse(image(101, "k"), { maxBodyBytes: 1000, presign });
    assert.equal(raw.statusCode, 200);
    assert.equal(raw.body?.byteLength, 101);
  });
});

const app = (origin: Origin) => ({ origin, presign: async (key: string) => `https://s3.example/${key}` });
const context = (remainingMs: number) => ({ getRemainingTimeInMillis: () => remainingMs }) as never;

describe("cdn-origin handler", () => {
  it("answers 503 TIMEOUT before Lambda's deadline and aborts the work", async () => {
    let aborted = false;
    const slow: Origin = (request: OriginRequest) =>
      new Promise((resolve) => {
        request.signal?.addEventListener("abort", () => {
          aborted = true;
          resolve(image(1));
        });
      });
    const handler = createCdnOriginHandler(app(slow));
    const started = Date.now();
    const result = (await handler(event("/a.jpg"), context(1_700))) as {
      statusCode: number;
      headers: Record<string, string>;
      body: string;
    };
    assert.equal(result.statusCode, 503);
    assert.equal(result.headers["retry-after"], "5");
    assert.equal(JSON.parse(Buffer.from(result.body, "base64").toString()).code, "TIMEOUT");
    assert.ok(Date.now() - started < 1_500);
    assert.equal(aborted, true);
  });

  it("streams the body in RESPONSE_STREAM mode (through the runtime's streamifyResponse)", async () => {
    const preludes: unknown[] = [];
    const runtime = globalThis as { awslambda?: unknown };
    runtime.awslambda = {
      streamifyResponse: (fn: unknown) => fn,
      HttpResponseStream: {
        from: (stream: Writable, prelude: unknown) => {
          preludes.push(prelude);
          return stream;
        },
      },
    };
    try {
      const handler = createCdnOriginHandler(
        app(async () => image(30_000, "k.jpg")),
        {
          streaming: true,
          maxBodyBytes: 50_000,
        },
      ) as unknown as (event: unknown, stream: Writable, context: unknown) => Promise<void>;
      const chunks: Buffer[] = [];
      const sink = new Writable({
        write(chunk: Buffer, _encoding, done) {
          chunks.push(chunk);
          done();
        },
      });
      await handler(event("/k.jpg"), sink, context(30_000));
      assert.deepEqual(Buffer.concat(chunks), Buffer.alloc(30_000, 7));
      assert.deepEqual(preludes, [
        {
          statusCode: 200,
          headers: { "content-type": "image/jpeg", "x-unjpeg-action": "hit", vary: "Accept" },
        },
      ]);
    } finally {
      delete runtime.awslambda;
    }
  });

  it("answers a cold-start failure as a JSON 500 and tries again on the next call", async () => {
    let calls = 0;
    const handler = createCdnOriginHandler(async () => {
      calls += 1;
      throw new Error("config broken");
    });
    const originalWrite = process.stderr.write;
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try {
      const first = (await handler(event("/a.jpg"), context(30_000))) as { statusCode: number; body: string };
      assert.equal(first.statusCode, 500);
      assert.equal(JSON.parse(Buffer.from(first.body, "base64").toString()).code, "INTERNAL");
      await handler(event("/a.jpg"), context(30_000));
    } finally {
      process.stderr.write = originalWrite;
    }
    assert.equal(calls, 2);
  });
});
