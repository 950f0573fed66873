/**
 * An S3 endpoint that accepts connections and never answers (reliability case 3: `backfill` sat at 0/0
 * for 400 s until killed). Every S3 call gives up after UNJPEG_S3_REQUEST_TIMEOUT_MS without a byte, the
 * SDK's retry policy tries again, and once the retries are spent the caller gets `S3_TIMEOUT`. The guards
 * below only stop a hang from holding the suite; they are far above what the timeouts allow.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { loadConfig } from "../../lib/config.js";
import { LOCAL_CREDENTIALS } from "../../lib/storage/local-s3.js";
import { createS3Client, headObject, StorageError } from "../../lib/storage/s3.js";
import { spawnCli } from "./backfill-helpers.js";
import { startCdnStack } from "./cdn-stack.js";

const TIMEOUTS = { UNJPEG_S3_CONNECT_TIMEOUT_MS: "500", UNJPEG_S3_REQUEST_TIMEOUT_MS: "300" };

let silent: Server;
let endpoint: string;
let connections = 0;
const sockets = new Set<Socket>();
before(async () => {
  silent = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    // Reads the request and never answers.
    socket.resume();
  }).listen(0, "127.0.0.1");
  await once(silent, "listening");
  endpoint = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
});
after(async () => {
  for (const socket of sockets) socket.destroy();
  silent.close();
});

/** Rejects when `work` has not settled within `ms` (a hang), so the test fails instead of stalling. */
function guard<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} still running after ${ms} ms`)), ms);
  });
  return Promise.race([work, hung]).finally(() => clearTimeout(timer));
}

test("one S3 call to an endpoint that never answers fails with S3_TIMEOUT after the SDK's retries (reliability case 3)", async () => {
  const config = loadConfig({
    UNJPEG_S3_ENDPOINT: endpoint,
    UNJPEG_S3_FORCE_PATH_STYLE: "true",
    ...TIMEOUTS,
  });
  const s3 = createS3Client(config, { credentials: LOCAL_CREDENTIALS });
  try {
    const before = connections;
    const error = await guard(
      headObject(s3, "media", "photos/cat.jpg").then(
        () => assert.fail("a HEAD without an answer resolved"),
        (e: unknown) => e,
      ),
      30_000,
      "HEAD",
    );
    assert.ok(error instanceof StorageError, String(error));
    assert.equal(error.code, "S3_TIMEOUT");
    assert.equal(error.retryable, true);
    assert.match(
      error.message,
      /HEAD s3:\/\/media\/photos\/cat\.jpg.*UNJPEG_S3_REQUEST_TIMEOUT_MS.*4 attempts/,
    );
    assert.equal(connections - before, 4, "the SDK's retry policy: maxAttempts 4, each on a new connection");
    // Through the SDK's own request handler (its connection and idle-socket timeouts).
    const handler = s3.config.requestHandler as unknown as { httpHandlerConfigs(): Record<string, unknown> };
    assert.equal(handler.httpHandlerConfigs()["connectionTimeout"], 500);
    assert.equal(handler.httpHandlerConfigs()["socketTimeout"], 300);
  } finally {
    s3.destroy();
  }
});

test("backfill against an endpoint that never answers ends with S3_TIMEOUT once retries are spent (reliability case 3)", async () => {
  const dir = await mkdtemp(join(tmpdir(), "unjpeg-timeouts-"));
  try {
    const child = spawnCli(
      [
        "backfill",
        "s3://media/",
        "--endpoint",
        endpoint,
        "--retries",
        "2",
        "--state",
        join(dir, "state.jsonl"),
      ],
      TIMEOUTS,
    );
    const result = await guard(child.output, 120_000, "backfill").finally(() => child.kill("SIGKILL"));
    assert.equal(result.code, 1, result.stderr);
    assert.match(
      result.stderr,
      /listing s3:\/\/media\/ failed: .*UNJPEG_S3_REQUEST_TIMEOUT_MS.*\[S3_TIMEOUT\]/,
    );
    assert.match(result.stderr, /retry 1 in \d+ ms after S3_TIMEOUT/, "the listing's retries are shown");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("CDN origin: a request while S3 never answers gets 504 S3_TIMEOUT, not a hang (reliability case 3)", async () => {
  const cdn = await startCdnStack({ s3Endpoint: endpoint, env: TIMEOUTS });
  try {
    const response = await guard(fetch(`${cdn.url}/photos/cat.jpg`), 60_000, "the origin's answer");
    assert.equal(response.status, 504);
    assert.deepEqual(await response.json(), {
      code: "S3_TIMEOUT",
      message: "the object store did not answer in time",
    });
  } finally {
    await cdn.close();
  }
});
