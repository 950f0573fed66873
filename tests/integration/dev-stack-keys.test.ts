/**
 * `npm start` (unjpeg dev, a child process as a user runs it) against keys its local S3 cannot hold
 * (reliability case 8): s3rver keeps each object as files named after the key's last segment, so a segment
 * of 130 CJK characters (390 bytes) made its write stream fail with ENAMETOOLONG, unhandled, and the whole
 * stack died; a derivative key a few bytes longer than its source did the same. Such keys are refused
 * with a clear error at the stack's boundary (S3's KeyTooLongError), the page's upload answers
 * KEY_TOO_LONG, an upload whose derivative would not fit is a key-too-long skip, and the stack lives on.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { freePort, makeJpeg, TEST_MODEL_DIR } from "./s3rver-helpers.js";

/** Resolves with everything printed once `text` appears; rejects if the process exits first. */
function waitForOutput(child: ChildProcess, text: string, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`no "${text}" within ${ms} ms; output:\n${seen}`)), ms);
    const onData = (chunk: Buffer) => {
      seen += chunk.toString("utf8");
      if (seen.includes(text)) {
        clearTimeout(timer);
        child.stdout!.off("data", onData);
        resolve(seen);
      }
    };
    child.stdout!.on("data", onData);
    child.once("exit", (code) => reject(new Error(`exited with ${code} before "${text}"; output:\n${seen}`)));
  });
}

const path = (key: string) => key.split("/").map(encodeURIComponent).join("/");

test("npm start survives keys too long for its local S3 and refuses them clearly (reliability case 8)", async () => {
  const [s3Port, httpPort] = [await freePort(), await freePort()];
  const data = await mkdtemp(join(tmpdir(), "unjpeg-dev-keys-"));
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "lib/cli/main.ts", "dev", "--model", TEST_MODEL_DIR, "--data", data],
    {
      env: { ...process.env, UNJPEG_S3_PORT: String(s3Port), UNJPEG_HTTP_PORT: String(httpPort) },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  const s3 = `http://127.0.0.1:${s3Port}/media`;
  const origin = `http://127.0.0.1:${httpPort}`;
  const jpeg = await makeJpeg(10, 80, 60, 5);
  try {
    await waitForOutput(child, "Ctrl-C stops it.", 60_000);

    // `curl -T` to a key with a 390-byte segment.
    const long = `uploads/${"猫".repeat(130)}.jpg`;
    const put = await fetch(`${s3}/${path(long)}`, { method: "PUT", body: jpeg });
    assert.equal(put.status, 400);
    assert.match(await put.text(), /<Code>KeyTooLongError<\/Code>.*233 bytes/s);

    // The page's own upload of such a name.
    const page = await fetch(
      `${origin}/_unjpeg/api/upload?name=${encodeURIComponent(`${"猫".repeat(130)}.jpg`)}`,
      {
        method: "POST",
        body: jpeg,
      },
    );
    assert.equal(page.status, 400);
    assert.equal(((await page.json()) as { code: string }).code, "KEY_TOO_LONG");

    // A source that fits (232 bytes) whose derivative would not (241): skipped before the model runs.
    const edge = `uploads/${"猫".repeat(76)}.jpg`;
    const skipped = waitForOutput(child, `skipped   ${edge}: key-too-long`, 60_000);
    assert.equal((await fetch(`${s3}/${path(edge)}`, { method: "PUT", body: jpeg })).status, 200);
    await skipped;
    const served = await fetch(`${origin}/${path(edge)}`);
    assert.equal(served.status, 200);
    assert.equal(served.headers.get("x-unjpeg-skip-reason"), "key-too-long");

    // Still alive, and still restoring.
    const restored = waitForOutput(child, "restored  photos/after.jpg → photos/after.restored.jpg", 60_000);
    assert.equal((await fetch(`${s3}/photos/after.jpg`, { method: "PUT", body: jpeg })).status, 200);
    await restored;
    assert.equal(child.exitCode, null, stderr);
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
    await rm(data, { recursive: true, force: true });
  }
});
