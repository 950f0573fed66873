/**
 * CDN-origin latency through the local HTTP adapter (the Lambda payload-2.0 path) on a real s3rver:
 *   hit   a stored, current derivative (no model run), 1 and N concurrent clients, repeated requests
 *   miss  first requests for distinct sources (restore-bound), N concurrent clients
 * Prints one table; any non-200 answer is counted as an error.
 *
 *   npx tsx bench/cdn.ts [--clients 20] [--hits 2000] [--misses 20] [--size 256x256] [--model DIR]
 *                        [--concurrency 1] [--hit-keys 1] [--hot-cache-mb 64] [--revalidate-seconds 0]
 *                        [--s3-in-process]
 * Three processes: the origin (this one), s3rver, and the load generator (keep-alive connections, as a
 * CDN's); CPU ms/req is reported for each. --hit-keys N spreads the hits over N images (a CDN collapses
 * concurrent requests for one object itself, so an origin mostly sees distinct ones). */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { makeJpeg, startCdnStack, TEST_MODEL_DIR } from "../tests/integration/cdn-stack.js";

const { values } = parseArgs({
  options: {
    clients: { type: "string", default: "20" },
    hits: { type: "string", default: "2000" },
    misses: { type: "string", default: "20" },
    size: { type: "string", default: "256x256" },
    model: { type: "string", default: TEST_MODEL_DIR },
    concurrency: { type: "string", default: "1" },
    "s3-in-process": { type: "boolean", default: false },
    "hit-keys": { type: "string", default: "1" },
    "hot-cache-mb": { type: "string", default: "64" },
    "revalidate-seconds": { type: "string", default: "0" },
  },
});
const clients = Number(values.clients);
const [width, height] = values.size.split("x").map(Number) as [number, number];

interface Sample {
  ms: number;
  ok: boolean;
  action: string | null;
}

/**
 * The load generator runs in its own process with keep-alive connections, as a CDN's origin fetches do:
 * its CPU is reported apart from the origin's, and its event loop does not delay the origin's. Each stdin
 * line is a job `{urls, total, clients}` (request i asks for urls[i % urls.length]); the answer is one line
 * `{samples, wallMs, cpuMs}`.
 */
const CLIENT_CODE = `
  const http = await import("node:http");
  const get = (agent, url) => new Promise((resolve) => {
    const start = performance.now();
    const done = (ok, action) => resolve({ ms: performance.now() - start, ok, action });
    http.get(url, { agent }, (response) => {
      response.resume();
      response.on("end", () => done(response.statusCode === 200, response.headers["x-unjpeg-action"] ?? null));
      response.on("error", () => done(false, null));
    }).on("error", () => done(false, null));
  });
  let pending = "";
  process.stdin.on("data", async (chunk) => {
    pending += chunk;
    const end = pending.indexOf("\\n");
    if (end === -1) return;
    const { urls, total, clients } = JSON.parse(pending.slice(0, end));
    pending = pending.slice(end + 1);
    const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
    const samples = [];
    let next = 0;
    const cpuBefore = process.cpuUsage();
    const start = performance.now();
    await Promise.all(Array.from({ length: clients }, async () => {
      while (next < total) {
        const i = next++;
        samples.push(await get(agent, urls[i % urls.length]));
      }
    }));
    const wallMs = performance.now() - start;
    const cpu = process.cpuUsage(cpuBefore);
    agent.destroy();
    process.stdout.write(JSON.stringify({ samples, wallMs, cpuMs: (cpu.user + cpu.system) / 1000 }) + "\\n");
  });`;

function startClientProcess(): { run: (job: Job) => Promise<ClientAnswer>; stop: () => void } {
  const child = spawn(process.execPath, ["--input-type=module", "-e", CLIENT_CODE], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  let buffered = "";
  return {
    async run(job) {
      child.stdin!.write(`${JSON.stringify(job)}\n`);
      while (!buffered.includes("\n")) {
        const [chunk] = (await once(child.stdout!, "data")) as [Buffer];
        buffered += chunk.toString("utf8");
      }
      const end = buffered.indexOf("\n");
      const answer = JSON.parse(buffered.slice(0, end)) as ClientAnswer;
      buffered = buffered.slice(end + 1);
      return answer;
    },
    stop: () => child.stdin!.end(),
  };
}

interface Job {
  urls: string[];
  total: number;
  clients: number;
}

interface ClientAnswer {
  samples: Sample[];
  wallMs: number;
  cpuMs: number;
}

/** CPU of each process over one load: the origin (this process), S3 and the load generator. */
interface Load extends ClientAnswer {
  clients: number;
  originCpuMs: number;
  s3CpuMs: number | undefined;
}

async function load(job: Job): Promise<Load> {
  const originBefore = process.cpuUsage();
  const s3Before = await s3?.cpuMs();
  const answer = await client.run(job);
  const origin = process.cpuUsage(originBefore);
  const s3After = await s3?.cpuMs();
  return {
    ...answer,
    clients: job.clients,
    originCpuMs: (origin.user + origin.system) / 1000,
    s3CpuMs: s3Before === undefined || s3After === undefined ? undefined : s3After - s3Before,
  };
}

const quantile = (sorted: number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;

function row(name: string, { samples, wallMs, clients, cpuMs, originCpuMs, s3CpuMs }: Load): string[] {
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
  const errors = samples.filter((s) => !s.ok).length;
  const actions = [...new Set(samples.map((s) => s.action ?? "error"))].join("+");
  return [
    name,
    String(samples.length),
    String(clients),
    quantile(ms, 0.5).toFixed(1),
    quantile(ms, 0.95).toFixed(1),
    quantile(ms, 0.99).toFixed(1),
    ms[ms.length - 1]!.toFixed(1),
    ((samples.length / wallMs) * 1000).toFixed(1),
    (originCpuMs / samples.length).toFixed(2),
    s3CpuMs === undefined ? "(in origin)" : (s3CpuMs / samples.length).toFixed(2),
    (cpuMs / samples.length).toFixed(2),
    String(errors),
    actions,
  ];
}

/**
 * S3 runs in its own process, as it does in production (elsewhere): its CPU is not the origin's. The child
 * prints its endpoint and runs until this process ends.
 */
async function startS3rverProcess(): Promise<{
  endpoint: string;
  cpuMs: () => Promise<number>;
  stop: () => void;
}> {
  const directory = await mkdtemp(join(tmpdir(), "unjpeg-bench-s3-"));
  const code = `
    const { startLocalS3 } = await import(${JSON.stringify(new URL("../lib/storage/local-s3.ts", import.meta.url).href)});
    const s3 = await startLocalS3({ port: 0, directory: ${JSON.stringify(directory)}, buckets: ["media"] });
    process.stdout.write(s3.endpoint + "\\n");
    // Each line asks for this process's CPU time so far (ms), answered on one line.
    process.stdin.on("data", () => {
      const cpu = process.cpuUsage();
      process.stdout.write((cpu.user + cpu.system) / 1000 + "\\n");
    });
    process.stdin.on("end", () => s3.close().then(() => process.exit(0)));
    process.stdin.resume();`;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const [line] = (await once(child.stdout!, "data")) as [Buffer];
  return {
    endpoint: line.toString("utf8").trim(),
    cpuMs: async () => {
      child.stdin!.write("cpu\n");
      const [answer] = (await once(child.stdout!, "data")) as [Buffer];
      return Number(answer.toString("utf8").trim());
    },
    stop: () => {
      child.stdin!.end();
      void rm(directory, { recursive: true, force: true });
    },
  };
}

const s3 = values["s3-in-process"] ? undefined : await startS3rverProcess();
const client = startClientProcess();
const hotCacheMb = Number(values["hot-cache-mb"]);
const stack = await startCdnStack({
  ...(s3 === undefined ? {} : { s3Endpoint: s3.endpoint }),
  env: {
    UNJPEG_MODEL_DIR: values.model,
    UNJPEG_THREADS: "",
    UNJPEG_REVALIDATE_SECONDS: values["revalidate-seconds"],
  },
  concurrency: Number(values.concurrency),
  maxQueued: Math.max(64, clients * 2),
  hotCacheBytes: hotCacheMb * 1024 * 1024,
});
try {
  const misses = Number(values.misses);
  const hitKeys = Math.max(1, Number(values["hit-keys"]));
  for (let i = 0; i < misses; i++)
    await stack.put(`bench/miss-${i}.jpg`, await makeJpeg(15, width, height, i + 1));
  const hitUrls = Array.from({ length: hitKeys }, (_, i) => `${stack.url}/bench/hit-${i}.jpg`);
  for (let i = 0; i < hitKeys; i++)
    await stack.put(`bench/hit-${i}.jpg`, await makeJpeg(15, width, height, 1000 + i));
  // Warm up: load the model and store the hit derivatives.
  const warm = await load({ urls: hitUrls, total: hitKeys, clients: 1 });
  if (warm.samples.some((sample) => !sample.ok)) throw new Error("warm-up request failed");
  // Warm up the code paths of a hit (JIT, connections) before timing them.
  await load({ urls: hitUrls, total: 500, clients });

  const miss = await load({
    urls: Array.from({ length: misses }, (_, i) => `${stack.url}/bench/miss-${i}.jpg`),
    total: misses,
    clients,
  });
  const hits = Number(values.hits);
  const single = await load({ urls: hitUrls, total: Math.min(500, hits), clients: 1 });
  const hit = await load({ urls: hitUrls, total: hits, clients });
  const header = [
    "path",
    "requests",
    "clients",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "max ms",
    "req/s",
    "origin cpu ms/req",
    "s3 cpu ms/req",
    "client cpu ms/req",
    "errors",
    "served as",
  ];
  const hitName = `hit (stored derivative, ${hitKeys} image${hitKeys === 1 ? "" : "s"})`;
  const rows = [
    header,
    row(hitName, single),
    row(hitName, hit),
    ...(misses > 0 ? [row(`miss (restore ${width}x${height})`, miss)] : []),
  ];
  const widths = header.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  console.log(
    `CDN origin, local adapter + s3rver (${s3 === undefined ? "in the origin's process" : "own process"}), model ${values.model}, restores at once: ${values.concurrency}, hot cache ${hotCacheMb} MiB, revalidate after ${values["revalidate-seconds"]} s`,
  );
  for (const r of rows) console.log(r.map((cell, c) => cell.padEnd(widths[c]!)).join("  "));
  console.log(`model runs: ${stack.restores()} (expected ${misses + hitKeys}: one per distinct source)`);
} finally {
  await stack.close();
  client.stop();
  s3?.stop();
}
