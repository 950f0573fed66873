/**
 * The local stack (`unjpeg dev`, the process `npm start` runs) under a mixed load for a while: uploads of
 * low- and high-quality JPEGs, quick re-uploads of one key, bad files (junk after an SOI marker, a cut-off
 * JPEG, a PNG named .jpg), CDN requests (hits and misses, JPEG and WebP), deletes, and once a minute a
 * burst of misses over the origin's restore concurrency. Prints requests and latencies per kind, answers
 * by status and error code, the stack's RSS over time, and checks that nothing was lost: once the load
 * stops and the stack is quiet, every source's newest version has a current derivative or a recorded skip,
 * and no deleted source keeps one.
 *   node --import tsx bench/soak.ts [--minutes 10] [--model DIR] [--keys 60] [--rate 8] [--size 320x240]
 * The model defaults to the small test model so that S3 and HTTP work, not the model, is what runs; pass
 * `--model models/codiff-tiny` for the shipped one. Pass/fail (exit status): nothing lost, no answer 5xx
 * other than 503 back-pressure, RSS grows at most 10 % from minute 3 to the end.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  DeleteObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import sharp from "sharp";

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "10" },
    model: { type: "string", default: join(import.meta.dirname, "../tests/fixtures/model-random") },
    keys: { type: "string", default: "60" },
    rate: { type: "string", default: "8" },
    size: { type: "string", default: "320x240" },
  },
});
const minutes = Number(values.minutes);
const keyCount = Number(values.keys);
const rate = Number(values.rate);
const [width, height] = values.size.split("x").map(Number) as [number, number];
const BUCKET = "media";
const ROOT = join(import.meta.dirname, "..");

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}

/** A picture with edges and texture, different per seed, as a JPEG of the given quality. */
async function jpeg(seed: number, quality: number): Promise<Buffer> {
  const px = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      px[i] = (x * 7 + seed * 31) & 255;
      px[i + 1] = ((x >> 4) + (y >> 4) + seed) & 1 ? 210 : 40;
      px[i + 2] = 128 + 100 * Math.sin((x + seed) / 9) * Math.cos(y / 13);
    }
  return sharp(px, { raw: { width, height, channels: 3 } })
    .jpeg({ quality })
    .toBuffer();
}

type Kind = "low" | "high" | "bad";
interface Source {
  etag: string | null; // null: deleted (or never uploaded)
  kind: Kind;
}

interface Sample {
  op: string;
  ms: number;
  /** HTTP status, or 200 for a successful S3 call; the S3 error name or the origin's JSON code otherwise. */
  status: number;
  code: string;
}

const samples: Sample[] = [];
const sources = new Map<string, Source>();
const rss: { minute: number; mib: number }[] = [];
const decisions: Record<string, unknown>[] = [];

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), "unjpeg-soak-"));
  const s3Port = await freePort();
  const httpPort = await freePort();
  const stack: ChildProcess = spawn(
    "sh",
    [join(ROOT, "bin/unjpeg"), "--tsx", "dev", "--json", "--data", dataDir, "--model", values.model!],
    {
      cwd: ROOT,
      env: { ...process.env, UNJPEG_S3_PORT: String(s3Port), UNJPEG_HTTP_PORT: String(httpPort) },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let exited = null as string | null;
  stack.on("exit", (code, signal) => {
    exited = `exit ${code ?? signal}`;
  });
  let buffered = "";
  let lastDecision = Date.now();
  stack.stdout!.on("data", (chunk: Buffer) => {
    buffered += chunk.toString();
    let nl = buffered.indexOf("\n");
    while (nl >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.startsWith("{")) {
        try {
          decisions.push(JSON.parse(line) as Record<string, unknown>);
          lastDecision = Date.now();
        } catch {}
      }
      nl = buffered.indexOf("\n");
    }
  });
  let stderr = "";
  stack.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const origin = `http://127.0.0.1:${httpPort}`;
  const s3 = new S3Client({
    endpoint: `http://127.0.0.1:${s3Port}`,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
  });
  for (let k = 0; ; k++) {
    if (exited !== null) throw new Error(`the stack ended before it answered (${exited}): ${stderr}`);
    try {
      if ((await fetch(`${origin}/_unjpeg/health`)).ok) break;
    } catch {}
    if (k > 600) throw new Error("the stack did not start in 60 s");
    await new Promise((done) => setTimeout(done, 100));
  }

  const pictures = {
    low: await Promise.all([1, 2, 3, 4].map((s) => jpeg(s, 15))),
    high: [await jpeg(9, 95)],
  };
  const cutOff = pictures.low[0]!.subarray(0, pictures.low[0]!.length >> 1);
  const junk = Buffer.concat([
    Buffer.from([0xff, 0xd8, 0xff]),
    Buffer.from("<html><body>not a photo</body></html>"),
  ]);
  const png = await sharp(pictures.low[1]!).png().toBuffer();
  const bad = [cutOff, junk, png];

  const key = (k: number) => `soak/k${k}.jpg`;
  const timed = async (op: string, run: () => Promise<{ status: number; code: string }>) => {
    const start = performance.now();
    let result: { status: number; code: string };
    try {
      result = await run();
    } catch (error) {
      const status = error instanceof S3ServiceException ? (error.$metadata.httpStatusCode ?? 0) : 0;
      result = { status, code: (error as Error).name };
    }
    samples.push({ op, ms: performance.now() - start, ...result });
  };
  const put = (k: number, kind: Kind, body: Buffer) =>
    timed(`upload ${kind}`, async () => {
      const out = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key(k), Body: body }));
      sources.set(key(k), { etag: out.ETag!.replaceAll('"', ""), kind });
      return { status: 200, code: "" };
    });
  const get = (k: number, format: string, op = "cdn") =>
    timed(op, async () => {
      const response = await fetch(`${origin}/${key(k)}?format=${format}`);
      const body = await response.arrayBuffer();
      let code = response.headers.get("x-unjpeg-action") ?? "";
      if (!response.ok) {
        try {
          code = (JSON.parse(Buffer.from(body).toString()) as { code: string }).code;
        } catch {
          code = "(no JSON)";
        }
      }
      return { status: response.status, code };
    });
  const remove = (k: number) =>
    timed("delete", async () => {
      await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key(k) }));
      sources.set(key(k), { etag: null, kind: sources.get(key(k))?.kind ?? "low" });
      return { status: 200, code: "" };
    });

  const started = Date.now();
  const end = started + minutes * 60_000;
  let nextBurst = started + 30_000;
  let seed = 100;
  const inFlight = new Set<Promise<void>>();
  const sampleRss = async () => {
    const status = await readFile(`/proc/${stack.pid}/status`, "utf8").catch(() => "");
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
    rss.push({ minute: (Date.now() - started) / 60_000, mib: kb / 1024 });
  };
  const rssTimer = setInterval(() => void sampleRss(), 10_000);
  await sampleRss();
  let lastReport = started;
  while (Date.now() < end && exited === null) {
    const k = Math.floor(Math.random() * keyCount);
    const r = Math.random();
    const job =
      r < 0.3
        ? put(k, "low", pictures.low[seed++ % pictures.low.length]!)
        : r < 0.35
          ? // Two quick versions of one key: the newest must end with its derivative.
            put(k, "low", pictures.low[seed++ % 4]!).then(() => put(k, "low", pictures.low[seed++ % 4]!))
          : r < 0.4
            ? put(k, "high", pictures.high[0]!)
            : r < 0.45
              ? put(k, "bad", bad[seed++ % bad.length]!)
              : r < 0.9
                ? get(k, Math.random() < 0.7 ? "jpeg" : "webp")
                : remove(k);
    const tracked = job.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
    if (Date.now() >= nextBurst) {
      nextBurst += 60_000;
      // Misses for 24 keys at once, over the origin's restore concurrency: 503s with Retry-After are fine.
      const burst = Array.from({ length: 24 }, (_, i) => keyCount + ((seed * 24 + i) % 400));
      await Promise.all(burst.map((b) => put(b, "low", pictures.low[b % 4]!)));
      await new Promise((done) => setTimeout(done, 3000));
      await Promise.all(burst.map((b) => get(b, "webp", "cdn burst")));
    }
    if (Date.now() - lastReport > 60_000) {
      lastReport = Date.now();
      process.stderr.write(
        `${((Date.now() - started) / 60_000).toFixed(1)} min: ${samples.length} requests, RSS ${rss.at(-1)?.mib.toFixed(0)} MiB\n`,
      );
    }
    await new Promise((done) => setTimeout(done, 1000 / rate));
  }
  await Promise.all(inFlight);
  const crashed = exited;
  clearInterval(rssTimer);
  await sampleRss();
  // Quiet: no decision for 15 s (events are delivered asynchronously), at most 5 minutes.
  const quietBy = Date.now() + 300_000;
  while (Date.now() - lastDecision < 15_000 && Date.now() < quietBy)
    await new Promise((d) => setTimeout(d, 1000));

  // Nothing lost: the newest version of each source has a current derivative or a recorded skip.
  const lost: string[] = [];
  const stale: string[] = [];
  const lastFor = new Map<string, Record<string, unknown>>();
  for (const d of decisions) if (typeof d["key"] === "string") lastFor.set(d["key"], d);
  for (const [k, source] of sources) {
    const derivative = k.replace(/\.jpg$/, ".restored.jpg");
    let meta: Record<string, string> | null = null;
    try {
      meta = (await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: derivative }))).Metadata ?? {};
    } catch {}
    if (source.etag === null) {
      if (meta !== null) lost.push(`${k}: deleted, but its derivative is still there`);
    } else if (source.kind === "low") {
      if (meta?.["unjpeg-source-etag"] !== source.etag)
        lost.push(
          `${k}: newest version ${source.etag} has ${meta === null ? "no derivative" : `a derivative of ${meta["unjpeg-source-etag"]}`}`,
        );
    } else {
      const last = lastFor.get(k);
      if (last?.["Outcome"] !== "skipped")
        lost.push(`${k}: ${source.kind} upload without a recorded skip (last: ${last?.["Outcome"]})`);
      // A derivative of an older version may stay beside a skipped newer one; it must not pass as current.
      if (meta?.["unjpeg-source-etag"] === source.etag)
        lost.push(`${k}: ${source.kind} upload has a current derivative`);
      else if (meta !== null) stale.push(k);
    }
  }
  stack.kill("SIGINT");
  await new Promise((done) => stack.once("exit", done));
  await rm(dataDir, { recursive: true, force: true });

  // Report.
  const ops = [...new Set(samples.map((s) => s.op))].sort();
  process.stdout.write(
    `\nSoak: ${minutes} min, ${keyCount} keys, ~${rate} ops/s, ${width}×${height}, model ${values.model}\n\n`,
  );
  process.stdout.write(
    "| kind | requests | p50 ms | p99 ms | answers (status code) |\n|---|---|---|---|---|\n",
  );
  for (const op of ops) {
    const mine = samples.filter((s) => s.op === op);
    const ms = mine.map((s) => s.ms).sort((a, b) => a - b);
    const by = new Map<string, number>();
    for (const s of mine)
      by.set(`${s.status} ${s.code}`.trim(), (by.get(`${s.status} ${s.code}`.trim()) ?? 0) + 1);
    const answers = [...by]
      .sort((a, b) => b[1] - a[1])
      .map(([c, n]) => `${c}: ${n}`)
      .join(", ");
    process.stdout.write(
      `| ${op} | ${mine.length} | ${percentile(ms, 50).toFixed(0)} | ${percentile(ms, 99).toFixed(0)} | ${answers} |\n`,
    );
  }
  const outcomes = new Map<string, number>();
  for (const d of decisions) {
    const label = `${d["Outcome"]}${d["Reason"] && d["Reason"] !== "none" ? ` (${d["Reason"]})` : ""}`;
    outcomes.set(label, (outcomes.get(label) ?? 0) + 1);
  }
  process.stdout.write(
    `\nUpload handler decisions: ${[...outcomes].map(([o, n]) => `${o}: ${n}`).join(", ")}\n`,
  );
  for (const d of decisions.filter((d) => d["Outcome"] === "failed").slice(0, 5))
    process.stdout.write(`  failed: ${d["key"]} ${d["Reason"]}: ${d["message"]}\n`);
  process.stdout.write("\n| minute | RSS MiB |\n|---|---|\n");
  for (let m = 0; m <= Math.ceil(minutes); m++) {
    const at = rss.filter((r) => r.minute <= m + 1e-9).at(-1);
    if (at !== undefined) process.stdout.write(`| ${m} | ${at.mib.toFixed(0)} |\n`);
  }
  const from = rss.filter((r) => r.minute >= Math.min(3, minutes / 3));
  const growth = from.length > 1 ? (from.at(-1)!.mib / from[0]!.mib - 1) * 100 : 0;
  const serverErrors = samples.filter((s) => s.status >= 500 && s.status !== 503).length;
  process.stdout.write(
    `\nRSS growth from minute ${Math.min(3, minutes / 3).toFixed(1)} to the end: ${growth.toFixed(1)} %\n`,
  );
  process.stdout.write(`Answers 5xx other than 503: ${serverErrors}\n`);
  process.stdout.write(
    `Lost: ${lost.length} of ${sources.size} sources${lost.length ? `\n  ${lost.slice(0, 20).join("\n  ")}` : ""}\n`,
  );
  process.stdout.write(
    `Stale derivatives beside a skipped newer version (never served: not current): ${stale.length}\n`,
  );
  if (crashed !== null)
    process.stdout.write(`The stack ended during the load (${crashed}):\n${stderr.slice(-2000)}\n`);
  process.exitCode = crashed === null && lost.length === 0 && serverErrors === 0 && growth <= 10 ? 0 : 1;
}

await main();
