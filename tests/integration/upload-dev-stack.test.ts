/**
 * `unjpeg dev` (what `npm start` runs) as a user runs it: a child process on a free port, the banner, an
 * upload that gets its derivative, data kept under the data folder, and a clean stop on SIGINT.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { loadConfig } from "../../lib/config.js";
import { LOCAL_CREDENTIALS } from "../../lib/storage/local-s3.js";
import { createS3Client } from "../../lib/storage/s3.js";
import { freePort, makeJpeg, putBytes, TEST_MODEL_DIR } from "./s3rver-helpers.js";

function waitForOutput(child: ChildProcess, text: string, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`no "${text}" within ${ms} ms; output:\n${seen}`)), ms);
    child.stdout!.on("data", (chunk: Buffer) => {
      seen += chunk.toString("utf8");
      if (seen.includes(text)) {
        clearTimeout(timer);
        resolve(seen);
      }
    });
    child.once("exit", (code) => reject(new Error(`exited with ${code} before "${text}"; output:\n${seen}`)));
  });
}

test("unjpeg dev: banner, upload → derivative, data under --data, clean stop on SIGINT", async () => {
  const port = await freePort();
  const data = await mkdtemp(join(tmpdir(), "unjpeg-dev-"));
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "lib/cli/main.ts", "dev", "--model", TEST_MODEL_DIR, "--data", data],
    {
      // The stack also serves the CDN origin and page: keep it off a port another process may hold.
      env: { ...process.env, UNJPEG_S3_PORT: String(port), UNJPEG_HTTP_PORT: String(await freePort()) },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  const s3 = createS3Client(
    loadConfig({ UNJPEG_S3_ENDPOINT: `http://127.0.0.1:${port}`, UNJPEG_S3_FORCE_PATH_STYLE: "true" }),
    { credentials: LOCAL_CREDENTIALS },
  );
  try {
    const banner = await waitForOutput(child, "Ctrl-C stops it.", 60_000);
    const endpoint = `http://127.0.0.1:${port}`;
    for (const expected of [
      endpoint,
      "S3RVER",
      `aws --endpoint-url ${endpoint} s3 cp cat.jpg s3://media/photos/cat.jpg`,
      `curl -T cat.jpg ${endpoint}/media/photos/cat.jpg`,
    ]) {
      assert.ok(banner.includes(expected), `banner lacks "${expected}":\n${banner}`);
    }

    const restored = waitForOutput(child, "restored  photos/dog.jpg → photos/dog.restored.jpg", 60_000);
    await putBytes(s3, "photos/dog.jpg", await makeJpeg(10, 80, 60, 3));
    await restored;
    const head = await s3.send(new HeadObjectCommand({ Bucket: "media", Key: "photos/dog.restored.jpg" }));
    assert.equal(head.Metadata?.["unjpeg-derivative"], "1");
    assert.ok((await readdir(join(data, "s3"))).includes("media"), "objects are kept under --data");

    child.kill("SIGINT");
    const started = Date.now();
    const [code] = (await once(child, "exit")) as [number | null];
    assert.equal(code, 0, stderr);
    assert.ok(Date.now() - started < 15_000, "stops promptly");
    const probe = createServer().listen(port, "127.0.0.1");
    await once(probe, "listening"); // the port is free again
    probe.close();
  } finally {
    s3.destroy();
    if (child.exitCode === null) child.kill("SIGKILL");
    await rm(data, { recursive: true, force: true });
  }
});
