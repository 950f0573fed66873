/**
 * CDN-origin latency through the local HTTP adapter (the Lambda payload-2.0 path) on a real s3rver:
 *   hit   a stored, current derivative (no model run), N concurrent clients, repeated requests
 *   miss  first requests for distinct sources (restore-bound), N concurrent clients
 * Prints one table; any non-200 answer is counted as an error.
 *
 *   npx tsx bench/cdn.ts [--clients 20] [--hits 2000] [--misses 20] [--size 256x256] [--model DIR]
 *                        [--concurrency 1] [--s3-in-process]
 * cpu ms/req is this process's CPU (bench clients and origin; s3rver too with --s3-in-process) per request.
 */
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
  },
});
const clients = Number(values.clients);
const [width, height] = values.size.split("x").map(Number) as [number, number];

interface Sample {
  ms: number;
  ok: boolean;
  action: string | null;
}

async function timedGet(url: string): Promise<Sample> {
  const start = performance.now();
  try {
    const response = await fetch(url);
    await response.arrayBuffer();
    return {
      ms: performance.now() - start,
      ok: response.status === 200,
      action: response.headers.get("x-unjpeg-action"),
    };
  } catch {
    return { ms: performance.now() - start, ok: false, action: null };
  }
}

/** `total` requests from `clients` concurrent loops; `urlFor(i)` names the i-th request. */
async function load(total: number, urlFor: (i: number) => string, clients: number): Promise<Load> {
  const samples: Sample[] = [];
  let next = 0;
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < total) {
        const i = next++;
        samples.push(await timedGet(urlFor(i)));
      }
    }),
  );
  const cpu = process.cpuUsage(cpuBefore);
  return { samples, wallMs: performance.now() - start, clients, cpuMs: (cpu.user + cpu.system) / 1000 };
}

const quantile = (sorted: number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;

/** `cpuMs`: CPU time of this whole process (clients, origin and s3rver together), less sensitive to load. */
interface Load {
  samples: Sample[];
  wallMs: number;
  clients: number;
  cpuMs: number;
}

function row(name: string, { samples, wallMs, clients, cpuMs }: Load): string[] {
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
    (cpuMs / samples.length).toFixed(1),
    String(errors),
    actions,
  ];
}

/**
 * S3 runs in its own process, as it does in production (elsewhere): its CPU is not the origin's. The child
 * prints its endpoint and runs until this process ends.
 */
async function startS3rverProcess(): Promise<{ endpoint: string; stop: () => void }> {
  const directory = await mkdtemp(join(tmpdir(), "unjpeg-bench-s3-"));
  const code = `
    const { startLocalS3 } = await import(${JSON.stringify(new URL("../lib/storage/local-s3.ts", import.meta.url).href)});
    const s3 = await startLocalS3({ port: 0, directory: ${JSON.stringify(directory)}, buckets: ["media"] });
    process.stdout.write(s3.endpoint + "\\n");
    process.stdin.on("end", () => s3.close().then(() => process.exit(0)));
    process.stdin.resume();`;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const [line] = (await once(child.stdout!, "data")) as [Buffer];
  return {
    endpoint: line.toString("utf8").trim(),
    stop: () => {
      child.stdin!.end();
      void rm(directory, { recursive: true, force: true });
    },
  };
}

const s3 = values["s3-in-process"] ? undefined : await startS3rverProcess();
const stack = await startCdnStack({
  ...(s3 === undefined ? {} : { s3Endpoint: s3.endpoint }),
  env: { UNJPEG_MODEL_DIR: values.model, UNJPEG_THREADS: "" },
  concurrency: Number(values.concurrency),
  maxQueued: Math.max(64, clients * 2),
});
try {
  const misses = Number(values.misses);
  for (let i = 0; i < misses; i++)
    await stack.put(`bench/miss-${i}.jpg`, await makeJpeg(15, width, height, i + 1));
  await stack.put("bench/hit.jpg", await makeJpeg(15, width, height, 999));
  // Warm up: load the model and store the hit derivative.
  const warm = await timedGet(`${stack.url}/bench/hit.jpg`);
  if (!warm.ok) throw new Error("warm-up request failed");

  const miss = await load(misses, (i) => `${stack.url}/bench/miss-${i}.jpg`, clients);
  const hitUrl = `${stack.url}/bench/hit.jpg`;
  const single = await load(Math.min(200, Number(values.hits)), () => hitUrl, 1);
  const hit = await load(Number(values.hits), () => hitUrl, clients);
  const header = [
    "path",
    "requests",
    "clients",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "max ms",
    "req/s",
    "cpu ms/req",
    "errors",
    "served as",
  ];
  const rows = [
    header,
    row("hit (stored derivative)", single),
    row("hit (stored derivative)", hit),
    row(`miss (restore ${width}x${height})`, miss),
  ];
  const widths = header.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  console.log(
    `CDN origin, local adapter + s3rver (${s3 === undefined ? "same process" : "own process"}), model ${values.model}, restores at once: ${values.concurrency}`,
  );
  for (const r of rows) console.log(r.map((cell, c) => cell.padEnd(widths[c]!)).join("  "));
  console.log(`model runs: ${stack.restores()} (expected ${misses + 1}: one per distinct source)`);
} finally {
  await stack.close();
  s3?.stop();
}
