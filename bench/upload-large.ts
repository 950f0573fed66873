/**
 * Large transfers through lib/storage against a real s3rver (run by `bench/upload.ts --large MB`): how fast
 * and with how much memory a source over UNJPEG_MAX_BYTES is refused (on its length, and without one), a
 * source within the limit is read whole, and a large derivative goes up as one PutObject or in parts.
 * Each case runs in its own child process (its peak RSS is its own); RSS is sampled every 5 ms during the
 * operation and reported above the process's RSS just before it.
 *
 *   npx tsx bench/upload.ts --large 256 [--limit 50]
 */
import { spawn } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { GetObjectCommand, HeadBucketCommand, type S3Client } from "@aws-sdk/client-s3";
import { loadConfig } from "../lib/config.js";
import { LOCAL_CREDENTIALS } from "../lib/storage/local-s3.js";
import {
  createS3Client,
  DEFAULT_MULTIPART,
  getObjectRange,
  ObjectTooLargeError,
  putObject,
} from "../lib/storage/s3.js";
import { BUCKET, putBytes, startS3rver } from "../tests/integration/s3rver-helpers.js";

const MIB = 1024 * 1024;
const CASES = [
  "get-whole-reference",
  "get-refused",
  "get-refused-no-length",
  "get-within-limit",
  "put-single",
  "put-multipart",
] as const;
type Case = (typeof CASES)[number];

interface Measured {
  readonly case: Case;
  readonly objectBytes: number;
  readonly ms: number;
  /** Body bytes the client read (GET) or sent (PUT). */
  readonly bytes: number;
  readonly peakRssOverMiB: number;
  readonly outcome: string;
}

/** Runs `operation`, sampling RSS; returns its time and the peak RSS above the RSS just before it. */
async function measure<T>(
  operation: () => Promise<T>,
): Promise<{ value: T; ms: number; peakOverMiB: number }> {
  const before = process.memoryUsage.rss();
  let peak = before;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 5);
  const started = performance.now();
  try {
    const value = await operation();
    peak = Math.max(peak, process.memoryUsage.rss());
    return { value, ms: performance.now() - started, peakOverMiB: (peak - before) / MIB };
  } finally {
    clearInterval(timer);
  }
}

const dropContentLength = (s3: S3Client) =>
  s3.middlewareStack.add(
    (next) => async (args) => {
      const result = await next(args);
      delete (result.response as { headers: Record<string, string> }).headers["content-length"];
      return result;
    },
    { step: "deserialize", name: "drop-content-length", priority: "low" },
  );

/** One case, in this (child) process. */
async function runCase(
  name: Case,
  endpoint: string,
  sizeBytes: number,
  limitBytes: number,
): Promise<Measured> {
  const s3 = createS3Client(
    loadConfig({ UNJPEG_S3_ENDPOINT: endpoint, UNJPEG_S3_FORCE_PATH_STYLE: "true" }),
    { credentials: LOCAL_CREDENTIALS },
  );
  await s3.send(new HeadBucketCommand({ Bucket: BUCKET })); // warm: connection and credentials
  const refusal = async (key: string) => {
    try {
      const body = await getObjectRange(s3, BUCKET, key, { start: 0, maxBytes: limitBytes });
      return { bytes: body?.byteLength ?? 0, outcome: "read (not refused!)" };
    } catch (error) {
      if (!(error instanceof ObjectTooLargeError)) throw error;
      return { bytes: error.bytesRead, outcome: error.code };
    }
  };
  let result: { value: { bytes: number; outcome: string }; ms: number; peakOverMiB: number };
  let objectBytes = sizeBytes;
  switch (name) {
    case "get-whole-reference":
      // What finding out by reading costs: the whole object through the SDK, then its size checked.
      result = await measure(async () => {
        const response = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "large/source.bin" }));
        const body = await response.Body!.transformToByteArray();
        return {
          bytes: body.byteLength,
          outcome: body.byteLength > limitBytes ? "over (read whole)" : "read",
        };
      });
      break;
    case "get-refused":
      result = await measure(() => refusal("large/source.bin"));
      break;
    case "get-refused-no-length":
      dropContentLength(s3);
      result = await measure(() => refusal("large/source.bin"));
      break;
    case "get-within-limit":
      objectBytes = limitBytes;
      result = await measure(async () => {
        const body = await getObjectRange(s3, BUCKET, "large/within.bin", { start: 0, maxBytes: limitBytes });
        return { bytes: body?.byteLength ?? 0, outcome: "read" };
      });
      break;
    case "put-single":
    case "put-multipart": {
      const body = randomFillSync(new Uint8Array(sizeBytes));
      const multipart =
        name === "put-single"
          ? { ...DEFAULT_MULTIPART, thresholdBytes: Number.POSITIVE_INFINITY }
          : DEFAULT_MULTIPART;
      result = await measure(async () => {
        await putObject(s3, {
          bucket: BUCKET,
          key: `large/${name}.restored.png`,
          body,
          contentType: "image/png",
          cacheControl: "public, max-age=86400",
          metadata: { "unjpeg-derivative": "1" },
          condition: { ifNoneMatch: "*" },
          multipart,
        });
        return { bytes: body.byteLength, outcome: "written" };
      });
      break;
    }
  }
  s3.destroy();
  return {
    case: name,
    objectBytes,
    ms: result.ms,
    bytes: result.value.bytes,
    peakRssOverMiB: result.peakOverMiB,
    outcome: result.value.outcome,
  };
}

function runChild(name: Case, endpoint: string, sizeBytes: number, limitBytes: number): Promise<Measured> {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      fileURLToPath(import.meta.url),
      "--case",
      name,
      "--endpoint",
      endpoint,
      "--bytes",
      String(sizeBytes),
      "--limit-bytes",
      String(limitBytes),
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) reject(new Error(`case ${name} exited with ${code}`));
      else resolve(JSON.parse(out.trim().split("\n").at(-1)!) as Measured);
    });
  });
}

/** Starts s3rver, stores the objects, runs every case in a child, prints the table. */
export async function runLargeBench(sizeMiB: number, limitMiB: number): Promise<void> {
  const sizeBytes = Math.round(sizeMiB * MIB);
  const limitBytes = Math.round(limitMiB * MIB);
  const stack = await startS3rver({ tempPrefix: "unjpeg-bench-large-" });
  try {
    const endpoint = stack.config.s3Endpoint!;
    const source = randomFillSync(new Uint8Array(sizeBytes));
    await putBytes(stack.s3, "large/source.bin", source, "application/octet-stream");
    await putBytes(stack.s3, "large/within.bin", source.subarray(0, limitBytes), "application/octet-stream");
    const rows: Measured[] = [];
    for (const name of CASES) rows.push(await runChild(name, endpoint, sizeBytes, limitBytes));
    const f = (x: number, digits = 0) => x.toFixed(digits);
    process.stdout.write(
      [
        `large transfers (lib/storage, real s3rver on loopback): object ${sizeMiB} MiB, limit ${limitMiB} MiB,`,
        `multipart above ${DEFAULT_MULTIPART.thresholdBytes / MIB} MiB in ${DEFAULT_MULTIPART.partBytes / MIB} MiB parts, ${DEFAULT_MULTIPART.queueSize} at once`,
        "",
        "| case | object MiB | ms | MiB/s | body bytes read/sent | peak RSS over start, MiB | outcome |",
        "|---|---:|---:|---:|---:|---:|---|",
        ...rows.map(
          (r) =>
            `| ${r.case} | ${f(r.objectBytes / MIB)} | ${f(r.ms)} | ${r.bytes === 0 ? "-" : f(r.bytes / MIB / (r.ms / 1000), 1)} | ${r.bytes} | ${f(r.peakRssOverMiB, 1)} | ${r.outcome} |`,
        ),
        "",
        "get-whole-reference: reading the object to find out its size (what the limit avoids).",
        "get-refused: refused on Content-Length, no body byte read, connection closed. get-refused-no-length: the",
        "same object with its Content-Length removed from the answer: refused as the bytes pass the limit.",
        "put-*: the body is allocated before the measurement (a restore's output is in memory already); the RSS",
        "above it is what the transfer itself costs.",
        "",
      ].join("\n"),
    );
  } finally {
    await stack.close();
  }
}

// As a child: one case, one JSON line on stdout.
if (process.argv.includes("--case")) {
  const { values } = parseArgs({
    options: {
      case: { type: "string" },
      endpoint: { type: "string" },
      bytes: { type: "string" },
      "limit-bytes": { type: "string" },
    },
  });
  const measured = await runCase(
    values.case as Case,
    values.endpoint!,
    Number(values.bytes),
    Number(values["limit-bytes"]),
  );
  process.stdout.write(`${JSON.stringify(measured)}\n`);
}
