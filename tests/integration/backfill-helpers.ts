/**
 * Shared by the backfill integration tests and bench/backfill.ts: an archive of tiny objects in a real
 * s3rver (mostly high-quality JPEGs, some low-quality, some non-JPEG, some broken), and the `unjpeg`
 * CLI run as a child process against it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { HeadObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import sharp from "sharp";
import { forEachConcurrent } from "../../lib/backfill/pool.js";
import { LOCAL_CREDENTIALS } from "../../lib/storage/local-s3.js";
import { REPO_ROOT } from "./cli-helpers.js";
import { BUCKET, makeJpeg, TEST_MODEL_DIR } from "./s3rver-helpers.js";
import { startTestStack, type TestStack } from "./upload-helpers.js";

export { REPO_ROOT } from "./cli-helpers.js";

export { listKeys } from "./s3rver-helpers.js";

export type Kind = "high" | "low" | "not-jpeg" | "broken";

/** What object `i` of the archive is: 1 in 20 low quality, 1 in 40 not a JPEG, 1 in 80 broken. */
export function kindOf(i: number): Kind {
  if (i % 20 === 7) return "low";
  if (i % 40 === 3) return "not-jpeg";
  if (i % 80 === 11) return "broken";
  return "high";
}

export function keyOf(i: number, prefix = "archive/"): string {
  const kind = kindOf(i);
  const ext = kind === "not-jpeg" && i % 80 === 3 ? "png" : "jpg";
  return `${prefix}${String(i).padStart(5, "0")}.${ext}`;
}

/** A few distinct bodies per kind (16×16 pixels: the model's cost stays small), reused across keys. */
export async function archiveBodies(): Promise<Record<Kind, Uint8Array[]>> {
  const variants = [1, 2, 3, 4];
  const high = await Promise.all(variants.map((seed) => makeJpeg(95, 16, 16, seed)));
  const low = await Promise.all(variants.map((seed) => makeJpeg(20, 16, 16, seed)));
  const png = new Uint8Array(
    await sharp({ create: { width: 16, height: 16, channels: 3, background: "#808080" } })
      .png()
      .toBuffer(),
  );
  // Broken: a low-quality JPEG cut short inside its entropy-coded data (headers intact, so triage says
  // restore, and the decoder fails).
  const broken = low.map((bytes) => bytes.subarray(0, bytes.length - 10));
  return { high, low, "not-jpeg": [png, new TextEncoder().encode("not an image, named .jpg")], broken };
}

/** A fresh test stack holding the objects `pick` names, each body chosen from archiveBodies(). */
export async function startStackWith(
  pick: (bodies: Record<Kind, Uint8Array[]>) => Iterable<readonly [key: string, body: Uint8Array]>,
): Promise<TestStack> {
  const stack = await startTestStack();
  try {
    for (const [key, body] of pick(await archiveBodies()))
      await stack.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
    return stack;
  } catch (error) {
    await stack.close();
    throw error;
  }
}

/** Uploads `count` objects under `prefix` (16 at a time). */
export async function uploadArchive(s3: S3Client, count: number, prefix = "archive/"): Promise<void> {
  const bodies = await archiveBodies();
  await forEachConcurrent(
    Array.from({ length: count }, (_, i) => i),
    16,
    async (i) => {
      const kind = kindOf(i);
      const choices = bodies[kind];
      const key = keyOf(i, prefix);
      const body =
        kind === "not-jpeg" ? choices[key.endsWith(".png") ? 0 : 1]! : choices[i % choices.length]!;
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
    },
  );
}

export async function headMetadata(s3: S3Client, key: string): Promise<Record<string, string> | null> {
  try {
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    return head.Metadata ?? {};
  } catch {
    return null;
  }
}

/** The CLI as a child process: `node --import tsx lib/cli/main.ts ...` with s3rver's credentials. */
export function spawnCli(
  args: string[],
  env: Record<string, string> = {},
): ChildProcess & { output: Promise<CliResult> } {
  const child = spawn(process.execPath, ["--import", "tsx", "lib/cli/main.ts", ...args], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env["PATH"] ?? "",
      HOME: process.env["HOME"] ?? "",
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_REGION: "us-east-1",
      UNJPEG_MODEL_DIR: TEST_MODEL_DIR,
      UNJPEG_THREADS: "1",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk) => (stdout += chunk));
  child.stderr!.on("data", (chunk) => (stderr += chunk));
  const output = new Promise<CliResult>((resolve) => {
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return Object.assign(child, { output });
}

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}
