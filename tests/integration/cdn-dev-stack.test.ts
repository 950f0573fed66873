/**
 * The local stack (`npm start`, lib/cli/dev.ts) serves the CDN origin and the page on UNJPEG_HTTP_PORT,
 * beside the upload handler on the same s3rver: a JPEG uploaded through the page's API is restored once,
 * whichever of the two gets to it first.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { startDevStack } from "../../lib/cli/dev.js";
import { loadConfig } from "../../lib/config.js";
import { freePort, makeJpeg, TEST_MODEL_DIR } from "./s3rver-helpers.js";

test("npm start: origin, page and health on UNJPEG_HTTP_PORT next to the upload handler", async () => {
  const data = await mkdtemp(join(tmpdir(), "unjpeg-cdn-dev-"));
  const httpPort = await freePort();
  const config = loadConfig({
    UNJPEG_S3_PORT: String(await freePort()),
    UNJPEG_HTTP_PORT: String(httpPort),
    UNJPEG_MODEL_DIR: TEST_MODEL_DIR,
    UNJPEG_THREADS: "1",
  });
  const lines: string[] = [];
  const stack = await startDevStack(config, { dataDir: data, log: (line) => lines.push(line) });
  const base = `http://127.0.0.1:${httpPort}`;
  try {
    const banner = stack.services.flatMap((service) => service.banner).join("\n");
    assert.ok(banner.includes(`${base}/_unjpeg/`), banner);

    const health = (await (await fetch(`${base}/_unjpeg/health`)).json()) as { ok: boolean };
    assert.equal(health.ok, true);
    const page = await fetch(`${base}/`);
    assert.equal(page.url, `${base}/_unjpeg/`);
    assert.match(await page.text(), /before \/ after/);

    const upload = await fetch(`${base}/_unjpeg/api/upload?name=dog.jpg`, {
      method: "POST",
      body: await makeJpeg(10, 96, 64, 21),
    });
    assert.equal(upload.status, 201);
    assert.deepEqual(await upload.json(), { key: "uploads/dog.jpg" });
    const restored = await fetch(`${base}/uploads/dog.jpg`);
    assert.equal(restored.status, 200);
    assert.equal(restored.headers.get("x-unjpeg-quality"), "10");
    assert.match(restored.headers.get("x-unjpeg-action") ?? "", /^(restored|hit)$/);
    const bytes = new Uint8Array(await restored.arrayBuffer());
    const again = await fetch(`${base}/uploads/dog.jpg`);
    assert.equal(again.headers.get("x-unjpeg-action"), "hit");
    assert.deepEqual(new Uint8Array(await again.arrayBuffer()), bytes);
    const listed = (await (await fetch(`${base}/_unjpeg/api/objects`)).json()) as {
      objects: { key: string }[];
    };
    assert.deepEqual(
      listed.objects.map((object) => object.key),
      ["uploads/dog.jpg"],
    );
  } finally {
    await stack.close();
    await rm(data, { recursive: true, force: true });
  }
  // Closed: the port is free again.
  const probe = createServer().listen(httpPort, "127.0.0.1");
  await once(probe, "listening");
  probe.close();
});
